"""What the report says about the run's conditions: the machine, the versions measured, and a CPU check."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness.load import wrk_binary
from harness.processes import TARGET_CORE, pinned
from harness.upstream import nginx_binary

Record = dict[str, Any]


def machine() -> Record:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()}


def versions(litellm: Path | None, portkey: Path | None) -> Record:
    def output(argv: list[str]) -> str:
        try:
            completed = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"
        lines = (completed.stdout + completed.stderr).strip().splitlines()  # wrk -v exits with 1
        return lines[0] if lines else "unknown"

    found = {
        "nginx": output([nginx_binary(), "-v"]).removeprefix("nginx version: nginx/"),
        "wrk": output([wrk_binary(), "-v"]).split(" [")[0].removeprefix("wrk "),
        "modelyard": output([sys.executable, "-c", "import modelyard; print(modelyard.__version__)"]),
    }
    if litellm is not None:
        found["litellm"] = output(
            [str(litellm / "bin" / "python"), "-c", "import importlib.metadata as m; print(m.version('litellm'))"]
        )
    if portkey is not None:
        found["node"] = output(["node", "--version"]).removeprefix("v")
        package = portkey.parent.parent / "package.json"
        found["portkey"] = json.loads(package.read_text()).get("version", "unknown")
    return found


CPU_CHECK = """
import time
best = 1e9
for _ in range(5):
    started = time.perf_counter()
    total = 0
    for i in range(1_000_000):
        total += i * i
    best = min(best, time.perf_counter() - started)
print(best * 1000)
"""


def cpu_check_ms() -> float | None:
    """A fixed pure-Python loop on the target core, best of 5: compares runs, and shows a busy or slow machine."""
    try:
        completed = subprocess.run(
            pinned(TARGET_CORE, [sys.executable, "-c", CPU_CHECK]), capture_output=True, text=True, timeout=120
        )
        return float(completed.stdout.strip())
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
