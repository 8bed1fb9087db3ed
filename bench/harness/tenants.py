"""Tenant scale: what a workspace costs the event loop and memory, and what the version check costs.

Runs in-process in the project venv, against the database the environment names (SQLite under MODELYARD_HOME by
default; `--postgres` makes a throwaway schema on the test PostgreSQL and drops it at the end). Prints one JSON
document. `cd bench && ../.venv/bin/python -m harness.tenants MEASURE [options]`, MEASURE one of:

- `create`: workspace creation, wall time and the longest event-loop stall while keys are generated;
- `first-call`: a workspace's first call after a restart (snapshot build), and a rebuild after a configuration
  change: wall time, CPU time of the loop's thread, and the longest stall of the loop;
- `memory`: memory per loaded workspace (tracemalloc and RSS delta over `--workspaces`);
- `version-check`: the periodic check with 1k / 10k / 100k cached workspaces (`--cached`), faked in the cache;
- `restart`: `modelyard serve` on core 0, chat completions from core 1 over every workspace's key to a fake
  upstream: answers per second in the first `--seconds` after the start against warm.

Each workspace gets an API key and a deepseek credential (saved without validation) naming the fake upstream at
`--upstream-port`, as in issue 13's figures. The SQLite database under `--home` is kept: a later run adds only the
workspaces missing. Figures of 2026-12-07 (before → after): `first-call --workspaces 100` longest loop stall p50
208 → 0.4 ms, loop CPU 101 → 3.4 ms; `memory --workspaces 1000` 35.7 → 19.1 KB RSS per workspace;
`version-check` 22 / 128 ms / refused → 0.9 / 1.2 / 2.1 ms; `restart --workspaces 1000` 1.4% → 79% of warm.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import secrets
import statistics
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from modelyard.services.context import Services
from modelyard.services.resolve import resolve
from modelyard.services.snapshot import WorkspaceSnapshot
from modelyard.settings import Settings

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
MODEL = "deepseek/deepseek-flash"


class LoopWatch:
    """The longest stretch the event loop could not run a ready task: a task that yields at every turn of the
    loop notes the gap between its turns."""

    def __init__(self) -> None:
        self.longest_s = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0)
            now = time.perf_counter()
            self.longest_s = max(self.longest_s, now - last)
            last = now

    def reset(self) -> None:
        self.longest_s = 0.0

    async def __aenter__(self) -> LoopWatch:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def summary_ms(values_s: list[float]) -> dict[str, float]:
    ordered = sorted(values_s)
    return {
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
        "p50_ms": round(ordered[len(ordered) // 2] * 1000, 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
    }


@contextlib.asynccontextmanager
async def started(settings: Settings) -> AsyncIterator[Services]:
    services = Services(settings)
    await services.start()
    try:
        yield services
    finally:
        await services.close()


async def workspace_ids(services: Services) -> list[str]:
    return [view.id for view in await services.workspaces.list()]


async def populate(settings: Settings, count: int, upstream: str) -> dict[str, Any]:
    """Bring the database to `count` workspaces, each with an API key and a deepseek credential for `upstream`."""
    async with started(settings) as services:
        existing = await workspace_ids(services)
        durations: list[float] = []
        stalls: list[float] = []
        async with LoopWatch() as watch:
            for index in range(len(existing), count):
                watch.reset()
                begun = time.perf_counter()
                workspace = await services.workspaces.create(f"tenant-{index}")
                durations.append(time.perf_counter() - begun)
                stalls.append(watch.longest_s)
                await services.api_keys.create(workspace_id=workspace.id, name="bench")
                values = {"api_key": f"sk-bench-{secrets.token_hex(8)}", "endpoint_url": upstream}
                await services.credentials.create(
                    workspace_id=workspace.id, provider="deepseek", values=values, validate=False
                )
    if not durations:
        return {"created": 0}
    return {"created": len(durations), "create": summary_ms(durations), "create_loop_stall": summary_ms(stalls)}


async def timed_calls(
    ids: list[str], call: Callable[[str], Awaitable[object]], watch: LoopWatch | None
) -> dict[str, Any]:
    walls, cpus, stalls = [], [], []
    for workspace_id in ids:
        if watch is not None:
            watch.reset()
        wall, cpu = time.perf_counter(), time.thread_time()
        await call(workspace_id)
        cpus.append(time.thread_time() - cpu)
        walls.append(time.perf_counter() - wall)
        if watch is not None:
            stalls.append(watch.longest_s)
    result = {"wall": summary_ms(walls)}
    if watch is None:
        result["loop_thread_cpu"] = summary_ms(cpus)  # measured without the watch, whose turns cost CPU too
    else:
        result["longest_loop_stall"] = summary_ms(stalls)
    return result


async def first_call(settings: Settings, count: int) -> dict[str, Any]:
    async def call(workspace_id: str) -> None:
        resolve(await services.snapshots.get(workspace_id), MODEL, "llm")

    results: dict[str, Any] = {}
    async with started(settings) as services:  # a fresh process's caches: every call is a first call
        ids = (await workspace_ids(services))[:count]
        results["first_call"] = await timed_calls(ids, call, None)
    async with started(settings) as services:
        async with LoopWatch() as watch:
            results["first_call"] |= await timed_calls(ids, call, watch)
            for workspace_id in ids:  # what a configuration write does to this replica's copy
                await services.snapshots.invalidate(workspace_id)
            results["rebuild"] = await timed_calls(ids, call, watch)
        for workspace_id in ids:
            await services.snapshots.invalidate(workspace_id)
        results["rebuild"] |= await timed_calls(ids, call, None)
    results["workspaces"] = len(ids)
    return results


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


async def memory(settings: Settings, count: int) -> dict[str, Any]:
    """Memory held per loaded workspace: its API key looked up, its snapshot built, one model resolved."""
    async with started(settings) as services:
        ids = (await workspace_ids(services))[:count]
        await _load(services, ids[:1])  # first-use costs of the process itself (imports, pools) stay out
        gc.collect()
        rss_before = rss_bytes()
        tracemalloc.start()
        traced_before = tracemalloc.get_traced_memory()[0]
        await _load(services, ids[1:])
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] - traced_before
        tracemalloc.stop()
        rss = rss_bytes() - rss_before
    loaded = len(ids) - 1
    return {
        "workspaces": loaded,
        "traced_bytes_per_workspace": round(traced / loaded),
        "rss_bytes_per_workspace": round(rss / loaded),  # includes OpenSSL's key objects, which tracemalloc misses
    }


async def _load(services: Services, ids: list[str]) -> None:
    for workspace_id in ids:
        resolve(await services.snapshots.get(workspace_id), MODEL, "llm")


def fake_snapshot(workspace_id: str, version: int = 1) -> WorkspaceSnapshot:
    return WorkspaceSnapshot(workspace_id, version, {}, {}, frozenset(), {}, {})


async def version_check(settings: Settings, sizes: list[int], changes: int) -> dict[str, Any]:
    """The check with `size` workspaces in the cache (faked: no builds), idle and after `changes` real writes."""
    from modelyard.services.workspaces import bump_version

    results: dict[str, Any] = {}
    async with started(settings) as services:
        ids = await workspace_ids(services)
        snapshots = services.snapshots
        cache = snapshots._snapshots  # the harness reaches inside: building 100k real snapshots proves nothing more

        def fill(size: int) -> None:  # before each round: a check drops what it finds changed, or gone
            for index in range(size - len(ids)):
                workspace_id = f"ws_fake{index:020d}"
                cache[workspace_id] = fake_snapshot(workspace_id)
            for workspace_id in ids:
                cache[workspace_id] = fake_snapshot(workspace_id, 10**9)  # newer than any write: kept

        async def timed(size: int, writes: int) -> float:
            times = []
            for _ in range(3):
                fill(size)
                for workspace_id in ids[:writes]:
                    async with services.db.begin() as session:
                        await bump_version(session, workspace_id=workspace_id)
                begun = time.perf_counter()
                await snapshots.check_versions()
                times.append(time.perf_counter() - begun)
            return round(min(times) * 1000, 3)

        for size in sizes:
            row: dict[str, Any] = {"cached": size}
            try:
                row["idle_ms"] = await timed(size, 0)
                row["after_writes_ms"] = await timed(size, changes)
                row["writes"] = min(changes, len(ids))
            except Exception as exc:  # the old check refuses past asyncpg's 32,767 parameters
                row["error"] = f"{type(exc).__name__}: {str(exc)[:120]}"
            results[str(size)] = row
            for workspace_id in list(cache.keys()):
                cache.pop(workspace_id)
    return results


CHAT_ANSWER = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 0,
    "model": "deepseek-flash",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
}


async def fake_upstream(port: int) -> Callable[[], Awaitable[None]]:
    """The upstream every workspace's credential names: answers every chat completion at once."""
    from aiohttp import web

    async def chat(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response(CHAT_ANSWER)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner.cleanup


async def load(
    url: str, keys: list[str], seconds: float, concurrency: int, *, each_once: bool = False
) -> dict[str, float]:
    """`concurrency` clients posting chat completions for `seconds`, each with a random workspace's key; with
    `each_once`, every key once instead, however long that takes."""
    import aiohttp

    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}).encode()
    ok = failed = 0
    begun = time.perf_counter()
    deadline = begun + (float("inf") if each_once else seconds)
    rng = random.Random(7)
    queue = list(keys)
    timeout = aiohttp.ClientTimeout(total=600 if each_once else 10)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def client() -> None:
            nonlocal ok, failed
            while time.perf_counter() < deadline and (queue or not each_once):
                key = queue.pop() if each_once else rng.choice(keys)
                headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        if response.status == 200:
                            ok += 1
                        else:
                            failed += 1
                except (TimeoutError, aiohttp.ClientError):
                    failed += 1

        await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - begun if each_once else seconds
    return {"ok_per_s": round(ok / elapsed, 1), "failed": failed, "seconds": round(elapsed, 1)}


async def wait_until_ready(url: str, timeout_s: float = 120.0) -> None:
    import aiohttp

    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise TimeoutError(f"{url} did not answer 200 within {timeout_s:g} s")


def restart(settings: Settings, env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    """`modelyard serve` (one worker, pinned to core 0) started on the populated database, then loaded at once
    from core 1 over every workspace's key: the first `--seconds` after the start against the same after a pass
    that touched every workspace."""
    from harness.processes import LOAD_CORE, TARGET_CORE, Processes, free_port, pinned, wait_for_port

    asyncio.run(ensure_keys(settings))
    keys = _keys_file(settings).read_text().split()
    os.sched_setaffinity(0, {LOAD_CORE})
    port = free_port()
    serve = [str(Path(sys.executable).parent / "modelyard"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}/v1/chat/completions"

    async def measure() -> dict[str, Any]:
        stop_upstream = await fake_upstream(args.upstream_port)
        try:
            with Processes(settings.home) as processes:
                started = processes.start("tenants-serve", pinned(TARGET_CORE, [*serve, "--workers", "1"]), env=env)
                await asyncio.to_thread(wait_for_port, port, started, timeout_s=120)
                await wait_until_ready(f"http://127.0.0.1:{port}/health/ready")  # the clock starts when it serves
                cold = await load(url, keys, args.seconds, args.concurrency)
                touch = await load(url, keys, args.seconds, args.concurrency, each_once=True)
                warm = await load(url, keys, args.seconds, args.concurrency)
        finally:
            await stop_upstream()
        ratio = round(cold["ok_per_s"] / max(warm["ok_per_s"], 1), 3)
        return {"cold": cold, "every_workspace_once": touch, "warm": warm, "cold_over_warm": ratio}

    return {"workspaces": len(keys), "seconds": args.seconds, "concurrency": args.concurrency} | asyncio.run(measure())


def _keys_file(settings: Settings) -> Path:
    return settings.home / f"tenant-keys-{settings.database_schema or 'sqlite'}.txt"


async def ensure_keys(settings: Settings) -> None:
    """A plaintext key per workspace for `restart` (made once: keys are shown only at creation)."""
    path = _keys_file(settings)
    if path.exists():
        return
    async with started(settings) as services:
        lines = []
        for workspace_id in await workspace_ids(services):
            _, key = await services.api_keys.create(workspace_id=workspace_id, name="bench-restart")
            lines.append(key)
    path.write_text("\n".join(lines))


@contextlib.contextmanager
def postgres_schema(keep: str | None) -> Iterator[str]:
    """A schema on the test PostgreSQL for this run: `keep` reuses (and keeps) a named one."""
    import asyncpg

    async def execute(sql: str) -> None:
        connection = await asyncpg.connect(POSTGRES)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    schema = keep or f"bench_tenants_{secrets.token_hex(4)}"
    asyncio.run(execute(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    try:
        yield schema
    finally:
        if keep is None:
            asyncio.run(execute(f"DROP SCHEMA {schema} CASCADE"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("measure", choices=["create", "first-call", "memory", "version-check", "restart"])
    parser.add_argument("--home", type=Path, default=Path("/tmp/modelyard-tenants"))
    parser.add_argument("--workspaces", type=int, default=200, help="workspaces to populate and measure")
    parser.add_argument("--postgres", action="store_true", help="the test PostgreSQL instead of SQLite")
    parser.add_argument("--schema", default=None, help="with --postgres: reuse (and keep) this schema")
    parser.add_argument("--cached", default="1000,10000,100000", help="version-check: cached workspaces")
    parser.add_argument("--changes", type=int, default=10, help="version-check: writes between two checks")
    parser.add_argument("--seconds", type=float, default=10.0, help="restart: length of each run")
    parser.add_argument("--concurrency", type=int, default=64, help="restart: calls in flight")
    parser.add_argument("--upstream-port", type=int, default=18431, help="the fake upstream the credentials name")
    args = parser.parse_args()
    args.home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, MODELYARD_HOME=str(args.home), MODELYARD_SECRET_KEY="bench-master-key-" + "0" * 32)
    env.pop("MODELYARD_HOSTED_CONFIG", None)
    env.pop("MODELYARD_REDIS_URL", None)
    sizes = [int(size) for size in args.cached.split(",")]
    env["MODELYARD_WORKSPACE_CACHE_SIZE"] = str(max(sizes) + 1000)  # the LRU must hold what version-check fakes
    with contextlib.ExitStack() as stack:
        if args.postgres or args.measure == "version-check":
            schema = stack.enter_context(postgres_schema(args.schema))
            env |= {"MODELYARD_DATABASE_URL": POSTGRES.replace("://", "+asyncpg://", 1)}
            env |= {"MODELYARD_DATABASE_SCHEMA": schema}
        settings = Settings.from_env(env)
        result: dict[str, Any] = {"measure": args.measure, "database": "postgresql" if args.postgres else "sqlite"}
        wanted = max(args.changes, 2) if args.measure == "version-check" else args.workspaces
        upstream = f"http://127.0.0.1:{args.upstream_port}/v1"
        result["populate"] = asyncio.run(populate(settings, wanted, upstream))
        if args.measure == "first-call":
            result |= asyncio.run(first_call(settings, args.workspaces))
        elif args.measure == "memory":
            result |= asyncio.run(memory(settings, args.workspaces))
        elif args.measure == "version-check":
            result["database"] = "postgresql"
            result |= asyncio.run(version_check(settings, sizes, args.changes))
        elif args.measure == "restart":
            result |= restart(settings, env, args)
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
