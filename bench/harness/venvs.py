"""The bench's own venvs (never project dependencies), made once and kept between runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
LITELLM_REQUIREMENT = "litellm[proxy]==1.105.0"
TOOLS_REQUIREMENTS = ["matplotlib>=3.8", "py-spy>=0.4"]  # the chart; profiles with --profile


def ensure_venv(path: Path, requirements: list[str], log: Path) -> Path:
    """A venv at `path` with `requirements`; a stamp naming them skips the install next time."""
    stamp = path / ".bench-installed"
    wanted = "\n".join(requirements)
    if stamp.exists() and stamp.read_text() == wanted and (path / "bin" / "python").exists():
        return path
    base_python = getattr(sys, "_base_executable", None) or sys.executable
    with log.open("ab") as out:
        if not (path / "bin" / "python").exists():
            subprocess.run([base_python, "-m", "venv", str(path)], check=True, stdout=out, stderr=out)
        pip = [str(path / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True, stdout=out, stderr=out, timeout=600)
        subprocess.run([*pip, *requirements], check=True, stdout=out, stderr=out, timeout=1800)
    stamp.write_text(wanted)
    return path


def litellm_venv(log: Path) -> Path:
    return ensure_venv(BENCH_DIR / ".venv-litellm", [LITELLM_REQUIREMENT], log)


def tools_venv(log: Path) -> Path:
    return ensure_venv(BENCH_DIR / ".venv-tools", TOOLS_REQUIREMENTS, log)
