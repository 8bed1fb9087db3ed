"""The bench's own installs (never project dependencies), each from a lock with hashes, kept between runs:
Python venvs from `requirements/<name>.txt`, Portkey's gateway from `portkey/package-lock.json` (`npm ci`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
# requirements/<name>.in says what is wanted; <name>.txt is its lock (`make lock` refreshes both kinds of lock).
LITELLM_LOCK = BENCH_DIR / "requirements" / "litellm.txt"
TOOLS_LOCK = BENCH_DIR / "requirements" / "tools.txt"  # matplotlib for the chart, py-spy for --profile
PORTKEY_DIR = BENCH_DIR / "portkey"  # package.json pins the version; package-lock.json holds every integrity hash
PORTKEY_SERVER = PORTKEY_DIR / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"


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


def portkey_install(log: Path) -> Path:
    """Portkey's gateway, as `npm ci` installs it from the committed lock; returns its server script.

    `npm ci` refuses a lock that disagrees with package.json and checks every package's integrity hash.
    `--ignore-scripts`: the gateway's only install script is patch-package, with no patch in the package.
    """
    lock = PORTKEY_DIR / "package-lock.json"
    stamp = PORTKEY_DIR / "node_modules" / ".bench-installed"
    wanted = lock.read_text() + (PORTKEY_DIR / "package.json").read_text()
    if stamp.exists() and stamp.read_text() == wanted and PORTKEY_SERVER.exists():
        return PORTKEY_SERVER
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise FileNotFoundError(f"{tool} is not installed: run `make bench`, or apt-get install nodejs npm")
    with log.open("ab") as out:
        command = ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
        subprocess.run(command, check=True, stdout=out, stderr=out, cwd=PORTKEY_DIR, timeout=1800)
    stamp.write_text(wanted)
    return PORTKEY_SERVER
