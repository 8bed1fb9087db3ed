"""The bench's own venvs (never project dependencies), installed from hashed lock files and kept between runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
# requirements/<name>.in says what is wanted; <name>.txt is its lock (`make lock` refreshes both kinds of lock).
LITELLM_LOCK = BENCH_DIR / "requirements" / "litellm.txt"
TOOLS_LOCK = BENCH_DIR / "requirements" / "tools.txt"  # matplotlib for the chart, py-spy for --profile


def ensure_venv(path: Path, lock: Path, log: Path) -> Path:
    """A venv at `path` holding exactly `lock`; a stamp with the lock's text skips the install next time."""
    stamp = path / ".bench-installed"
    wanted = lock.read_text()
    if stamp.exists() and stamp.read_text() == wanted and (path / "bin" / "python").exists():
        return path
    base_python = getattr(sys, "_base_executable", None) or sys.executable
    with log.open("ab") as out:
        if not (path / "bin" / "python").exists():
            subprocess.run([base_python, "-m", "venv", str(path)], check=True, stdout=out, stderr=out)
        pip = [str(path / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        command = [*pip, "--require-hashes", "--no-deps", "-r", str(lock)]
        subprocess.run(command, check=True, stdout=out, stderr=out, timeout=1800)
    stamp.write_text(wanted)
    return path


def litellm_venv(log: Path) -> Path:
    return ensure_venv(BENCH_DIR / ".venv-litellm", LITELLM_LOCK, log)


def tools_venv(log: Path) -> Path:
    return ensure_venv(BENCH_DIR / ".venv-tools", TOOLS_LOCK, log)
