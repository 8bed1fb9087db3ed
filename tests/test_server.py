"""The service as `modelyard serve` runs it (granian, a real process): a stop (SIGTERM) drains the calls in flight for
MODELYARD_DRAIN_TIMEOUT_S, then ends them, gives their hosted quota back, writes usage and ledger, and exits."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import orjson
import pytest

from modelyard import vault
from modelyard.runtime import Runtime
from modelyard.server import ModelyardApp
from modelyard.services.context import Services
from modelyard.services.hosted import HostedConfig, HostedProvider
from modelyard.settings import Settings
from tests.fakes.openai import FakeOpenAI
from tests.support import MASTER, SECRET, eventually, make_settings

DRAIN_S = 2.0
CHAT = {"model": "deepseek/deepseek-flash", "messages": [{"role": "user", "content": "Hi"}]}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def environment(tmp_path: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """What `modelyard serve` is started with: SQLite under tmp_path, a hosted deepseek trial on the fake."""
    monkeypatch.setattr(vault, "RSA_BITS", 2048)
    hosted = tmp_path / "hosted.yaml"
    hosted.write_text(
        "providers:\n"
        "  deepseek:\n"
        f"    credentials: {{api_key: {SECRET}, endpoint_url: '{fake_openai.url}/v1'}}\n"
        "    quota: {type: trial, unit: times, limit: 10}\n"
    )
    home = tmp_path / "home"
    return {
        **{name: value for name, value in os.environ.items() if not name.startswith("MODELYARD_")},
        "MODELYARD_HOME": str(home),
        "MODELYARD_DATABASE_URL": f"sqlite+aiosqlite:///{home / 'modelyard.db'}",
        "MODELYARD_SECRET_KEY": MASTER,
        "MODELYARD_HOSTED_CONFIG": str(hosted),
        "MODELYARD_PORT": str(free_port()),
        "MODELYARD_DRAIN_TIMEOUT_S": str(DRAIN_S),
    }


async def services_of(environment: dict[str, str]) -> Services:
    services = Services(Settings.from_env(environment))
    await services.start()
    return services


@pytest.fixture
async def workspace(environment: dict[str, str]) -> tuple[str, str]:
    services = await services_of(environment)
    try:
        workspace = (await services.workspaces.create("Served")).id
        _, key = await services.api_keys.create(workspace_id=workspace, name="ci")
    finally:
        await services.close()
    return workspace, key


async def serving(environment: dict[str, str]) -> asyncio.subprocess.Process:
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "modelyard.cli", "serve", "--workers", "1",
        env=environment, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{environment['MODELYARD_PORT']}/health/live"

    async def live() -> bool:
        assert server.returncode is None, (await server.stderr.read()).decode()  # type: ignore[union-attr]
        try:
            async with aiohttp.ClientSession() as http, http.get(url) as response:
                return response.status == 200
        except aiohttp.ClientError:
            return False

    await eventually(live, "modelyard serve to listen", within_s=60)  # imports and migration, not performance
    return server


async def test_a_stop_ends_calls_held_by_a_hung_upstream_within_the_drain_time(
    environment: dict[str, str], workspace: tuple[str, str], fake_openai: FakeOpenAI
) -> None:
    workspace_id, key = workspace
    fake_openai.stream(b"data: {}\n\n", stall_after=0, stall_s=3600)  # the stream's headers, then nothing
    fake_openai.hang()  # no answer at all
    server = await serving(environment)
    url = f"http://127.0.0.1:{environment['MODELYARD_PORT']}/v1/chat/completions"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
        streamed = await http.post(url, json={**CHAT, "stream": True})
        assert streamed.status == 200
        whole = asyncio.create_task(http.post(url, json=CHAT))
        await eventually(lambda: len(fake_openai.requests) == 2, "both calls to reach the upstream")

        stopped_at = time.monotonic()
        server.send_signal(signal.SIGTERM)
        stream_body = await streamed.read()
        answer = await whole
        answer_body = await answer.read()
        await asyncio.wait_for(server.wait(), timeout=30)
        exited_after_s = time.monotonic() - stopped_at

    assert server.returncode in (0, -signal.SIGTERM), (await server.stderr.read()).decode()  # type: ignore[union-attr]
    # The drain ran its course before the stop (a lower bound: load only makes it longer); that the process exited
    # at all, within wait_for's 30 s, shows it did not wait for the hung upstream's hour.
    assert exited_after_s >= DRAIN_S
    [event] = [line for line in stream_body.split(b"\n\n") if line.startswith(b"data: ")]
    assert orjson.loads(event.removeprefix(b"data: "))["error"]["code"] == "server_stopping"  # and no [DONE]
    assert answer.status == 503 and answer.headers["retry-after"] == "1"
    assert orjson.loads(answer_body)["error"]["code"] == "server_stopping"
    await eventually(lambda: fake_openai.disconnects == 2, "both upstream calls to be closed")

    services = await services_of(environment)  # what the stopped service wrote before it exited
    try:
        ledger = await services.quota.ledger(workspace_id=workspace_id)
        [quota] = await services.quota.status(workspace_id=workspace_id)
        usage = await services.usage.records(workspace_id=workspace_id)
    finally:
        await services.close()
    assert sorted(entry.kind for entry in ledger) == ["release", "release", "reserve", "reserve"]
    assert quota.used == 0
    assert [record.status for record in usage] == ["cancelled", "cancelled"]


def test_workers_are_killed_only_after_a_longer_drain_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from modelyard.cli import serve as serve_module

    executed: list[list[str]] = []
    monkeypatch.setattr(serve_module.os, "execv", lambda path, argv: executed.append(argv))
    monkeypatch.setenv("MODELYARD_DRAIN_TIMEOUT_S", "60")

    serve_module.run_server(host="127.0.0.1", port=8080, workers=1, access_log=False)

    (argv,) = executed
    assert argv[argv.index("--workers-kill-timeout") + 1] == "70"  # the drain, then 10 s to stop and write


async def test_the_server_settles_reservations_a_crash_left_open_at_start_up(
    tmp_path: Path, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vault, "RSA_BITS", 2048)
    hosted = HostedConfig(providers={"deepseek": HostedProvider("deepseek", {"api_key": SECRET}, "trial", "times", 5)})
    settings = make_settings(tmp_path, "sqlite", None)
    crashed = Services(settings, runtime=runtime, hosted=hosted)
    await crashed.start()
    workspace_id = (await crashed.workspaces.create("Crash")).id
    await crashed.quota.reserve(workspace_id=workspace_id, provider="deepseek", model="deepseek-flash")
    await crashed.close()  # its call never closes the reservation, as if the process had died mid-call

    services = Services(settings, runtime=runtime, hosted=hosted)
    services.quota.reconciler.stale_after_s = 0  # as if the calls' total timeout had passed
    app = ModelyardApp(services, console=object())
    inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    outbox: list[dict[str, str]] = []

    async def send(message: dict[str, str]) -> None:
        outbox.append(message)

    await inbox.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(app({"type": "lifespan"}, inbox.get, send))

    async def settled() -> bool:
        await services.quota.flush()
        return [e.kind for e in await services.quota.ledger(workspace_id=workspace_id)] == ["reserve", "settle"]

    await eventually(lambda: outbox, "the lifespan start-up")
    await eventually(settled, "the open reservation to be settled")
    await inbox.put({"type": "lifespan.shutdown"})
    await lifespan
    assert [m["type"] for m in outbox] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


IDLE_THEN_CONSOLE = """
import asyncio, json, sys
from modelyard.server import create_app

async def call(app, method, path):  # in a task of its own, as a server runs each request
    return await asyncio.create_task(request(app, method, path))

async def request(app, method, path):
    sent, inbox = [], asyncio.Queue()
    inbox.put_nowait({"type": "http.request", "body": b"", "more_body": False})
    async def receive():  # the body, then nothing until the response is done (the client stays)
        return await inbox.get()
    async def send(message):
        sent.append(message)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"", "headers": [],
             "server": ("127.0.0.1", 8080), "client": ("127.0.0.1", 5000)}
    await app(scope, receive, send)
    return sent[0]["status"]

async def main():
    app = create_app()
    inbox, outbox = asyncio.Queue(), []
    async def send(message):
        outbox.append(message)
    await inbox.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(app({"type": "lifespan"}, inbox.get, send))
    while not outbox:
        await asyncio.sleep(0.01)
    idle = [await call(app, "GET", path) for path in ("/health/live", "/health/ready", "/metrics", "/v1/models")]
    print("--- a console request", file=sys.stderr, flush=True)
    console = await call(app, "GET", "/favicon.ico")
    await inbox.put({"type": "lifespan.shutdown"})
    await lifespan
    print(json.dumps({"idle": idle, "console": console}))

asyncio.run(main())
"""


def test_the_console_is_loaded_by_its_first_request_and_not_by_probes_or_the_gateway(tmp_path: Path) -> None:
    """The console's framework (FastAPI, ≈ 14 MB) stays out of a service that answers only /v1 and its probes."""
    home = tmp_path / "home"
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith("MODELYARD_")},
        "MODELYARD_HOME": str(home),
        "MODELYARD_DATABASE_URL": f"sqlite+aiosqlite:///{home / 'modelyard.db'}",
        "MODELYARD_SECRET_KEY": MASTER,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", IDLE_THEN_CONSOLE],
        capture_output=True, text=True, env=environment, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]

    idle, console = done.stderr.split("--- a console request")
    assert orjson.loads(done.stdout) == {"idle": [200, 200, 200, 401], "console": 200}
    assert imported(idle) & {"modelyard.gateway.app", "prometheus_client", "sqlalchemy"} == {
        "modelyard.gateway.app", "prometheus_client", "sqlalchemy",
    }  # fmt: skip
    assert not {m for m in imported(idle) if m.split(".")[0] == "fastapi" or "console" in m}
    assert {"fastapi", "modelyard.console.app"} <= imported(console)


def imported(importtime_log: str) -> set[str]:
    return set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$", importtime_log, re.MULTILINE))
