"""Measures beside the pinned targets: modelyard's scale-out from one worker to two, and the tenants measures
(`harness/tenants.py`, issue 13). Each records a failure and goes on, as the rest of the run does."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.processes import LOAD_CORE, TARGET_CORE, Processes, process_count
from harness.targets import (
    BENCH_DIR,
    CUSTOM_ROUTE,
    SYSTEM_SQLITE_ROUTE,
    Route,
    Target,
    Upstreams,
    check,
    harness_env,
    start_modelyard,
)

if TYPE_CHECKING:
    from harness.main import Run

Record = dict[str, Any]
# Scale-out: `make run`'s own setup (SQLite, no Redis) and the custom route, each with 1 then 2 workers.
SCALING_ROUTES = (SYSTEM_SQLITE_ROUTE, CUSTOM_ROUTE)
SCALING_WORKERS = (1, 2)
POSTGRES_ADDRESS = ("127.0.0.1", 5432)  # harness/tenants.py's version-check runs on the test PostgreSQL there


def measure_scaling(run: Run, processes: Processes, upstreams: Upstreams, work_dir: Path) -> list[Record]:
    """Throughput with 1 and 2 workers, the target allowed both cores. Not the bench's rule (one core each):
    wrk and the fakes stay on core 1, so a second worker shares that core with them; the report says so."""
    rows = []
    cores = f"{TARGET_CORE},{LOAD_CORE}"
    for route in SCALING_ROUTES:
        for workers in SCALING_WORKERS:
            home = work_dir / f"scaling-{route.key}-{workers}"
            home.mkdir(parents=True, exist_ok=True)

            def start(home: Path = home, route: Route = route, workers: int = workers) -> Target:
                return start_modelyard(processes, upstreams, home, redis=route.redis, workers=workers, cores=cores)

            rows.append(_scaled(run, route, workers, start))
    return rows


def _scaled(run: Run, route: Route, workers: int, start: Callable[[], Target]) -> Record:
    name = f"modelyard, {workers} worker{'s' if workers > 1 else ''}"
    print(f"\n== {name} on cores {TARGET_CORE},{LOAD_CORE} [{route.label}]", flush=True)
    row: Record = {"route_key": route.key, "route": route.label, "workers": workers}
    target = run.attempt(f"{name}: start", start)
    if isinstance(target, dict):
        return row | {"error": target["error"]}
    try:
        checked = run.attempt(f"{name}: smoke call", lambda: check(target, route))
        if isinstance(checked, dict):
            return row | {"error": checked["error"]}
        pid = target.process.pid
        row["processes"] = process_count(pid)
        for key, model, stream in (
            ("throughput_json", route.json_model, False),
            ("throughput_stream", route.stream_model, True),
        ):
            row[key] = run.attempt(
                f"{name}: throughput, {'streaming' if stream else 'JSON'}, {run.settings.connections} connections",
                partial(
                    run.wrk,
                    target.url,
                    model,
                    stream=stream,
                    connections=run.settings.connections,
                    headers=target.headers(model),
                    pid=pid,
                ),
            )
    finally:
        run.processes.stop(target.process)
    return row


def measure_tenants(run: Run, work_dir: Path) -> Record:
    """What a workspace costs: its first call and rebuild, its memory, the configuration version check, and
    throughput just after a restart; each on the target core (harness/tenants.py)."""
    if not (BENCH_DIR / "harness" / "tenants.py").exists():
        return {"skipped": "harness/tenants.py is not in this checkout"}
    record: Record = {"workspaces": run.settings.tenant_workspaces}
    home = work_dir / "tenants-home"  # shared: each measure tops the population up, none rebuilds it
    common = ["--home", str(home), "--workspaces", str(run.settings.tenant_workspaces)]
    restart_s = 4 if run.settings.quick else 10
    measures = {
        "first-call": common,
        "memory": common,
        "restart": [*common, "--seconds", str(restart_s)],
        "version-check": ["--home", str(work_dir / "tenants-pg-home")],
    }
    for measure, options in measures.items():
        if measure == "version-check" and not _listening(POSTGRES_ADDRESS):
            record[measure] = {"skipped": "needs the test PostgreSQL on 127.0.0.1:5432"}
            continue
        argv = [sys.executable, "-m", "harness.tenants", measure, *options]
        record[measure] = run.attempt(f"tenants: {measure}", partial(run.run_json, argv, harness_env(), 3600))
    return record


def _listening(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False
