"""wrk runs: a short warm-up, then the measured run; every non-2xx answer or socket error fails the run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.processes import LOAD_CORE, pinned

LUA_SCRIPT = Path(__file__).resolve().parent.parent / "lua" / "post.lua"


class LoadError(Exception):
    """wrk failed, or some answers were not 2xx."""


@dataclass(frozen=True)
class LoadResult:
    connections: int
    duration_s: float
    requests: int
    errors: int  # non-2xx answers plus socket errors: a run with any is refused
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float

    @property
    def ok_per_s(self) -> float:
        return (self.requests - self.errors) / self.duration_s


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise FileNotFoundError("wrk is not installed: run `make bench`, or apt-get install wrk")
    return found


def run_wrk(
    url: str,
    body: Path,
    *,
    connections: int,
    duration_s: float,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 10.0,
    core: int = LOAD_CORE,
    strict: bool = True,
) -> LoadResult | None:
    """One wrk run; `strict=False` (a warm-up) returns None instead of raising on errors or no requests."""
    argv = [
        wrk_binary(),
        "-t1",
        f"-c{connections}",
        f"-d{duration_s:g}s",
        f"--timeout={timeout_s:g}s",
        "-s",
        str(LUA_SCRIPT),
        url,
    ]
    lines = "\n".join(f"{name}: {value}" for name, value in (headers or {}).items())
    env = os.environ | {"BENCH_BODY": str(body), "BENCH_HEADERS": lines}
    completed = subprocess.run(
        pinned(core, argv), env=env, capture_output=True, text=True, timeout=duration_s + timeout_s + 30
    )
    line = next((x for x in completed.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if completed.returncode != 0 or line is None:
        raise LoadError(f"wrk failed ({completed.returncode}): {completed.stderr.strip() or completed.stdout[-500:]}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    errors = sum(data[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    result = LoadResult(
        connections=connections,
        duration_s=data["duration_us"] / 1e6,
        requests=data["requests"],
        errors=errors,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        mean_ms=data["mean_us"] / 1000,
    )
    if not strict:
        return None
    if data["requests"] == 0:
        raise LoadError(f"wrk completed no request in {duration_s:g} s")
    if errors:
        detail = ", ".join(f"{k}={data[k]}" for k in data if k.endswith(("errors", "timeouts")) and data[k])
        raise LoadError(f"{errors} of {data['requests']} requests failed ({detail})")
    return result
