"""Helpers the tests share (conftest files hold only fixtures): the fake secret, settings, and the system components
the suite uses for real, PostgreSQL, Redis and Chromium.

Where a component is absent (a laptop), its tests skip with the reason; `.ci/run` sets MODELYARD_REQUIRE_SERVICES=1,
which turns those skips into failures. A test that waits for a background effect polls with `eventually()`, never
a fixed sleep. Helpers of one face live beside this module: `tests.support.console`,
`tests.support.cli`, `tests.support.web`.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import inspect
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from modelyard.settings import Settings

SECRET = "sk-test-9f8e7d6c5b4a"  # the fake upstream key: recognisable, so tests search for it where it must not be
MASTER = "test-master-key-0123456789abcdef0123456789"  # the master key of every test's vault

# Every plaintext secret the suite hands to modelyard; the secret guard looks for each in databases and logs.
KNOWN_SECRETS: set[str] = {
    SECRET,
    "sk-hosted-0011223344556677",
    "xi-key-0011223344556677",
    "xi-secret-445566778899",
    "sk-heavy-00000000000001",
    "sk-light-00000000000002",
    "sk-new-key-000111222333",
    "sk-api-wrong-key-0123456789",  # minimax: a refused key
    "volc-wrong-secret-000111222",  # volcengine MaaS: a secret whose signature fails
    "wx-ak-0a1b2c3d",  # wenxin legacy: API Key and Secret Key
    "wx-sk-4e5f6a7b",
    "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",  # tencent: SecretKeys (TC3 signer, Hunyuan, ASR tests)
    "hunyuan-secret-key-0001",
    "hunyuan-sdk-secret-key-0001",
    "asr-secret-key-0001",
}

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright drives it, it never downloads its own
POSTGRES = ("127.0.0.1", 5432)
REDIS = ("127.0.0.1", 6379)


def postgres_url(*, driver: bool = True) -> str:
    url = os.environ.get("MODELYARD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
    return url.replace("postgresql://", "postgresql+asyncpg://", 1) if driver else url


def redis_url() -> str:
    return os.environ.get("MODELYARD_TEST_REDIS", "redis://127.0.0.1:6379/0")


def make_settings(home: Path, backend: str, schema: str | None, **overrides: object) -> Settings:
    """Settings for services on SQLite under `home`, or on the test PostgreSQL in `schema`."""
    url = f"sqlite+aiosqlite:///{home / 'modelyard.db'}" if backend == "sqlite" else postgres_url()
    values = dict(
        home=home,
        database_url=url,
        database_schema=schema,
        redis_url=None,
        secret_key=MASTER,
        host="127.0.0.1",
        port=0,
        hosted_config=None,
    )
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@functools.cache
def _reachable(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


def _require(name: str, address: tuple[str, int]) -> None:
    if _reachable(address):
        return
    message = f"{name} is not reachable at {address[0]}:{address[1]}"
    if os.environ.get("MODELYARD_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message}, and MODELYARD_REQUIRE_SERVICES=1 says it must be")
    pytest.skip(message)


def require_postgres() -> None:
    _require("PostgreSQL", POSTGRES)


def require_redis() -> None:
    _require("Redis", REDIS)


def require_chromium() -> None:
    """Skip (fail under MODELYARD_REQUIRE_SERVICES=1) without Debian's chromium or the playwright package."""
    if not CHROMIUM.exists():
        problem = f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
    elif importlib.util.find_spec("playwright") is None:
        problem = "the playwright package is not installed (pip install -e '.[dev]')"
    else:
        return
    if os.environ.get("MODELYARD_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{problem}, and MODELYARD_REQUIRE_SERVICES=1 says it must be")
    pytest.skip(problem)


async def eventually(condition: Callable[[], object], awaited: str, *, within_s: float = 10.0) -> None:
    """Poll `condition` (a plain or an async callable) until it is true; after `within_s`, fail saying what was awaited.

    For every wait on a background effect (a connection closed, a batch written, a broadcast received): a fixed
    sleep is either too short on a busy machine or wastes time on an idle one.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        outcome = condition()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if loop.time() >= deadline:
            pytest.fail(f"waited {within_s:g} s for {awaited}", pytrace=False)
        await asyncio.sleep(0.01)


async def serve(app: Any) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    """Serve an ASGI app on a free loopback port; returns the server, its task and its URL once it listens."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())

    def listening() -> bool:
        if task.done():
            task.result()  # raises what stopped the server
        return bool(server.started)

    await eventually(listening, "uvicorn to listen")
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, f"http://127.0.0.1:{port}"
