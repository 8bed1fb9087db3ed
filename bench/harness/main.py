"""One benchmark run: fake upstreams, then each target on the target core, then the libraries and the listing,
modelyard's scale-out from one worker to two, and the tenants measures.

Every process started here is stopped at the end, whatever happens; a failed measure is written into the
report (and makes the exit status 1) instead of ending the run.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from harness import wire
from harness.extras import measure_scaling, measure_tenants
from harness.load import run_wrk
from harness.machine import cpu_check_ms, machine, versions
from harness.processes import (
    LOAD_CORE,
    TARGET_CORE,
    Processes,
    cpu_seconds,
    free_port,
    pinned,
    process_count,
    pss_kib,
    rss_kib,
    wait_for_port,
)
from harness.profile import Profiler
from harness.report import write_reports
from harness.settings import RunSettings, parse_settings
from harness.streams import measure_streams
from harness.targets import (
    BENCH_DIR,
    ROUTES,
    Route,
    Target,
    Upstreams,
    check,
    harness_env,
    start_litellm,
    start_modelyard,
    start_passthrough,
    start_portkey,
)
from harness.upstream import start_fake_upstream
from harness.venvs import litellm_venv, portkey_install, tools_venv

Record = dict[str, Any]
NICENESS = -10  # needs root; without it the run goes on at normal priority


class Run:
    def __init__(self, settings: RunSettings, raw_dir: Path, processes: Processes) -> None:
        self.settings = settings
        self.raw_dir = raw_dir
        self.processes = processes
        self.failures: list[str] = []
        self.bodies = self._write_bodies()
        self.profiler: Profiler | None = None  # set with --profile: samples modelyard's throughput runs

    def attempt(self, what: str, action: Callable[[], Any]) -> Any:
        """Run one measure; a failure is recorded and returned as {"error": ...} so the run goes on."""
        print(f"  {what} ...", flush=True)
        try:
            value = action()
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}".strip()
            (self.raw_dir / "errors.log").open("a").write(f"== {what}\n{traceback.format_exc()}\n")
            self.failures.append(f"{what}: {message.splitlines()[0][:300]}")
            print(f"  {what}: FAILED: {message[:2000]}", flush=True)
            return {"error": message.splitlines()[0][:300]}
        print(f"  {what}: {_brief(value)}", flush=True)
        return value

    def _write_bodies(self) -> dict[str, Path]:
        bodies = {}
        for model in ("bench-json", "bench-stream"):
            for stream in (False, True):
                path = self.raw_dir / f"body-{model}-{'stream' if stream else 'json'}.json"
                path.write_text(wire.compact(wire.chat_request(model, stream=stream)))
                bodies[f"{model}:{stream}"] = path
        return bodies

    def body(self, model: str, *, stream: bool) -> Path:
        key = f"{model}:{stream}"
        if key not in self.bodies:
            path = self.raw_dir / f"body-{len(self.bodies)}.json"
            path.write_text(wire.compact(wire.chat_request(model, stream=stream)))
            self.bodies[key] = path
        return self.bodies[key]

    def wrk(
        self,
        url: str,
        model: str,
        *,
        stream: bool,
        connections: int,
        headers: Mapping[str, str] | None = None,
        pid: int | None = None,
        core: int = LOAD_CORE,
        profile_as: str | None = None,
    ) -> Record:
        body = self.body(model, stream=stream)
        if self.settings.warmup_s > 0:
            # Unmeasured: a cold target (LiteLLM) may answer nothing in it, and that is no failure.
            run_wrk(
                url,
                body,
                connections=connections,
                duration_s=self.settings.warmup_s,
                headers=headers,
                core=core,
                strict=False,
            )
        sampling = None
        if self.profiler is not None and pid and profile_as:
            sampling = self.profiler.start(pid, profile_as, self.settings.duration_s)
        cpu_before = cpu_seconds(pid) if pid else 0.0
        try:
            result = run_wrk(
                url, body, connections=connections, duration_s=self.settings.duration_s, headers=headers, core=core
            )
        finally:
            summary = self.profiler.finish(*sampling) if self.profiler is not None and sampling else None
        assert result is not None  # strict runs raise instead
        record = asdict(result) | {"ok_per_s": result.ok_per_s}
        if pid:
            record["target_cpu_pct"] = 100 * (cpu_seconds(pid) - cpu_before) / result.duration_s
        if summary is not None:
            record["profile"] = str(summary)
        return record

    # --- upstream ---------------------------------------------------------------------------------------------

    def upstream(self, upstreams: Upstreams) -> Record:
        fast = upstreams.fast
        record: Record = {}
        # Its capacity: wrk alone on the other core, so nginx has its own core to itself.
        record["capacity_json"] = self.attempt(
            "fake upstream capacity, JSON",
            lambda: self.wrk(
                f"{fast.json_base}/chat/completions",
                "bench",
                stream=False,
                connections=self.settings.connections,
                core=TARGET_CORE,
            ),
        )
        record["capacity_stream"] = self.attempt(
            "fake upstream capacity, SSE",
            lambda: self.wrk(
                f"{fast.stream_base}/chat/completions",
                "bench",
                stream=True,
                connections=self.settings.connections,
                core=TARGET_CORE,
            ),
        )
        # The baseline for added latency: wrk and nginx where they are during the targets' runs.
        for connections in self.settings.latency_connections:
            record[f"latency_{connections}"] = self.attempt(
                f"upstream direct, latency at {connections} connection(s)",
                partial(self.wrk, f"{fast.json_base}/chat/completions", "bench", stream=False, connections=connections),
            )
        return record

    # --- targets ----------------------------------------------------------------------------------------------

    def target(self, name: str, route: Route, start: Callable[[], Target]) -> Record:
        settings = self.settings
        row: Record = {"target_key": name, "route": route.label, "route_key": route.key}
        print(f"\n== {name} [{route.label}]", flush=True)
        started_at = time.monotonic()
        target = self.attempt(f"{name}: start", start)
        if isinstance(target, dict):
            row["error"] = target["error"]
            return row
        try:
            row["target"] = target.name
            row["start_s"] = time.monotonic() - started_at
            checked = self.attempt(f"{name}: smoke call", lambda: check(target, route))
            if isinstance(checked, dict):
                row["error"] = checked["error"]
                return row
            row["checked"] = checked
            pid = target.process.pid
            row["rss_idle_mb"] = rss_kib(pid) / 1024
            row["pss_idle_mb"] = pss_kib(pid) / 1024
            row["processes"] = process_count(pid)
            wrk = self.wrk
            row["throughput_json"] = self.attempt(
                f"{name}: throughput, JSON, {settings.connections} connections",
                lambda: wrk(
                    target.url,
                    route.json_model,
                    stream=False,
                    connections=settings.connections,
                    headers=target.headers(route.json_model),
                    pid=pid,
                    profile_as=f"{name}-{route.key}-json" if name == "modelyard" else None,
                ),
            )
            row["throughput_stream"] = self.attempt(
                f"{name}: throughput, streaming {settings.chunks} chunks, {settings.connections} connections",
                lambda: wrk(
                    target.url,
                    route.stream_model,
                    stream=True,
                    connections=settings.connections,
                    headers=target.headers(route.stream_model),
                    pid=pid,
                    profile_as=f"{name}-{route.key}-stream" if name == "modelyard" else None,
                ),
            )
            for connections in settings.latency_connections:
                row[f"latency_{connections}"] = self.attempt(
                    f"{name}: latency at {connections} connection(s)",
                    partial(
                        wrk,
                        target.url,
                        route.json_model,
                        stream=False,
                        connections=connections,
                        headers=target.headers(route.json_model),
                        pid=pid,
                    ),
                )
            row["rss_after_load_mb"] = rss_kib(pid) / 1024
            row["streams"] = self.attempt(
                f"{name}: {settings.streams} streams held open",
                lambda: asdict(
                    measure_streams(
                        target.url,
                        target.headers(route.slow_model),
                        route.slow_model,
                        count=settings.streams,
                        pid=pid,
                        open_timeout_s=settings.stream_open_timeout_s,
                    )
                ),
            )
            streams = row["streams"]
            if "error" not in streams and streams["opened"] < streams["wanted"]:
                self.failures.append(
                    f"{name} [{route.label}]: only {streams['opened']} of {streams['wanted']} streams opened"
                    + (f" ({streams['first_error']})" if streams["first_error"] else "")
                )
            if not target.process.is_running():
                self.failures.append(f"{name} [{route.label}]: exited during the run (see {target.process.log})")
        finally:
            self.processes.stop(target.process)
        return row

    # --- in-process measures ----------------------------------------------------------------------------------

    def run_json(self, argv: list[str], env: dict[str, str], timeout_s: float) -> Record:
        """Run a measure on the target core; it prints one JSON document last (on one line, or as the whole of
        its output)."""
        completed = subprocess.run(
            pinned(TARGET_CORE, argv), env=env, capture_output=True, text=True, timeout=timeout_s, cwd=BENCH_DIR
        )
        if completed.returncode != 0:
            raise RuntimeError(f"exit {completed.returncode}: {completed.stderr.strip()[-3000:]}")
        output = completed.stdout.strip()
        try:
            parsed: Record = json.loads(output.splitlines()[-1])
        except json.JSONDecodeError:
            parsed = json.loads(output)
        return parsed

    def library(self, upstreams: Upstreams, litellm: Path | None) -> Record:
        calls = [
            "--root",
            upstreams.fast.root,
            "--calls",
            str(self.settings.library_calls),
            "--warmup",
            str(self.settings.library_warmup),
        ]
        record: Record = {}
        record["modelyard"] = self.attempt(
            "library: modelyard Runtime.chat vs raw aiohttp",
            lambda: self.run_json([sys.executable, "-m", "harness.library_modelyard", *calls], harness_env(), 1800),
        )
        if litellm is None:
            record["litellm"] = {"error": "the LiteLLM venv could not be installed"}
        else:
            env = harness_env(LITELLM_LOCAL_MODEL_COST_MAP="True")
            record["litellm"] = self.attempt(
                "library: litellm.acompletion vs raw aiohttp",
                lambda: self.run_json(
                    [str(litellm / "bin" / "python"), "-m", "harness.library_litellm", *calls], env, 3600
                ),
            )
        return record

    def listing(self, work_dir: Path) -> Record:
        home = work_dir / "listing-home"
        argv = [sys.executable, "-m", "harness.listing", "--home", str(home), "--runs", str(self.settings.listing_runs)]
        listing: Record = self.attempt(
            "listing a workspace's providers and models, whole catalog", lambda: self.run_json(argv, harness_env(), 900)
        )
        return listing


def _brief(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, Target) else f"{value.name} at {value.url}"
    return text if len(text) < 400 else text[:400] + " ..."


def prepare_process() -> None:
    """Pin the harness to the load core, raise its priority, allow many sockets, make SIGTERM unwind like Ctrl-C.

    Every process it starts inherits the priority: other work on the machine then disturbs the figures less.
    """
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {LOAD_CORE})
    with contextlib.suppress(PermissionError):
        os.nice(NICENESS)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else hard
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))

    def stop(signum: int, frame: object) -> None:
        for again in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(again, signal.SIG_IGN)  # a second signal must not cut the clean-up short
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)


def main(argv: list[str] | None = None) -> int:
    settings = parse_settings(argv)
    if (os.cpu_count() or 1) < 2:
        print("this benchmark needs 2 cores: one for the target, one for wrk and the upstreams", file=sys.stderr)
        return 2
    prepare_process()
    began = time.monotonic()
    now = datetime.now(UTC)
    raw_dir = settings.results_dir / "raw" / now.strftime("%Y%m%dT%H%M%SZ")
    work_dir = raw_dir / "work"
    work_dir.mkdir(parents=True)
    print(f"bench: raw output and logs in {raw_dir}", flush=True)
    record: Record = {
        "date": now.isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(settings).items()},
        "load_average_start": os.getloadavg(),
        "cpu_check_ms_start": cpu_check_ms(),
    }
    with Processes(raw_dir) as processes:
        run = Run(settings, raw_dir, processes)
        litellm = None
        if "litellm" in settings.targets:
            print("bench: the LiteLLM venv (bench/.venv-litellm; minutes on first run) ...", flush=True)
            litellm = run.attempt("install litellm[proxy]==1.105.0", lambda: litellm_venv(raw_dir / "venv-install.log"))
            litellm = litellm if isinstance(litellm, Path) else None
        portkey = None
        if "portkey" in settings.targets:
            print("bench: Portkey's gateway (bench/portkey, npm ci from its lock) ...", flush=True)
            installed = run.attempt(
                "install @portkey-ai/gateway (npm ci)", lambda: portkey_install(raw_dir / "npm-install.log")
            )
            portkey = installed if isinstance(installed, Path) else None
        record["versions"] = versions(litellm, portkey)
        if settings.profile:
            tools = run.attempt("install the bench tools (py-spy)", lambda: tools_venv(raw_dir / "venv-install.log"))
            if isinstance(tools, Path):
                run.profiler = Profiler(tools / "bin" / "py-spy", raw_dir)
        try:
            upstream = start_fake_upstream(processes, work_dir, chunks=settings.chunks)
            slow_port = free_port()
            slow_argv = [
                sys.executable,
                "-m",
                "harness.slow_upstream",
                "--port",
                str(slow_port),
                "--interval-s",
                str(settings.stream_interval_s),
                "--hold-s",
                "600",
            ]
            slow = processes.start("slow-upstream", pinned(LOAD_CORE, slow_argv), env=harness_env())
            wait_for_port(slow_port, slow, timeout_s=30)
            upstreams = Upstreams(upstream, f"http://127.0.0.1:{slow_port}/v1")
            print("\n== fake upstream", flush=True)
            record["upstream"] = run.upstream(upstreams)
            starters: dict[str, Callable[[int, Route], Target]] = {
                "passthrough": lambda n, route: start_passthrough(processes, upstreams),
                "modelyard": lambda n, route: start_modelyard(
                    processes, upstreams, _fresh(work_dir / f"modelyard-{n}"), redis=route.redis
                ),
            }
            if litellm is not None:
                venv = litellm
                starters["litellm"] = lambda n, route: start_litellm(
                    processes, upstreams, _fresh(work_dir / f"litellm-{n}"), venv
                )
            if portkey is not None:
                server = portkey
                starters["portkey"] = lambda n, route: start_portkey(processes, upstreams, server)
            rows = []
            for name in settings.targets:
                for n, route in enumerate(ROUTES[name]):
                    if name not in starters:
                        rows.append(
                            {"target_key": name, "route": route.label, "route_key": route.key, "error": "not installed"}
                        )
                        continue
                    rows.append(run.target(name, route, partial(starters[name], n, route)))
            record["rows"] = rows
            if "library" in settings.extras or "listing" in settings.extras:
                print("\n== libraries and listing", flush=True)
            if "library" in settings.extras:
                record["library"] = run.library(upstreams, litellm)
            if "listing" in settings.extras:
                record["listing"] = run.listing(work_dir)
            if "scaling" in settings.extras and "modelyard" in settings.targets:
                print("\n== scale-out: modelyard with 1 and 2 workers, both cores (wrk and the fakes share core 1)")
                record["scaling"] = measure_scaling(run, processes, upstreams, work_dir)
            if "tenants" in settings.extras:
                print("\n== tenants: first call, memory, version check, restart (harness/tenants.py)", flush=True)
                record["tenants"] = measure_tenants(run, work_dir)
        except KeyboardInterrupt:
            run.failures.append("interrupted")
            print("\nbench: interrupted; stopping everything it started", flush=True)
            raise
        except Exception as exc:
            run.failures.append(f"the run stopped: {type(exc).__name__}: {exc}")
            traceback.print_exc()
        finally:
            processes.stop_all()
            record["load_average_end"] = os.getloadavg()
            record["cpu_check_ms_end"] = cpu_check_ms()
            record["elapsed_s"] = time.monotonic() - began
            record["failures"] = run.failures
            (raw_dir / "results.json").write_text(json.dumps(record, indent=2, default=str))
    chart_python = None
    try:
        chart_python = tools_venv(raw_dir / "venv-install.log") / "bin" / "python"
    except Exception as exc:
        print(f"bench: no chart: matplotlib could not be installed ({exc})", flush=True)
    written = write_reports(record, raw_dir / "results.json", settings.results_dir, chart_python, now)
    print(f"\nbench: done in {record['elapsed_s'] / 60:.1f} min; wrote {', '.join(str(p) for p in written)}")
    if run.failures:
        print("bench: FAILED measures:\n  " + "\n  ".join(run.failures), file=sys.stderr)
        return 1
    return 0


def _fresh(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return directory
