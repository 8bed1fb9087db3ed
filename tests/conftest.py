from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from modelyard.runtime import Runtime
from tests import capabilities
from tests.fakes.loopback import served
from tests.fakes.openai import FakeOpenAI
from tests.support import KNOWN_SECRETS, SECRET, postgres_url

CAPABILITIES_FILE = Path(__file__).resolve().parent.parent / "build" / "capabilities.json"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Cells a test proved count once its call passed (see tests/capabilities.py)."""
    if report.when == "call":
        if report.passed:
            capabilities.proven.update(capabilities.pending)
        capabilities.pending.clear()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if capabilities.proven:
        CAPABILITIES_FILE.parent.mkdir(exist_ok=True)
        CAPABILITIES_FILE.write_text(json.dumps(sorted(capabilities.proven), indent=0))


@pytest.fixture(autouse=True)
def secret_guard(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """After each test: no known plaintext secret in the SQLite files or in anything logged (at DEBUG)."""
    caplog.set_level(logging.DEBUG)
    yield
    logged = caplog.text
    stored = b"".join(path.read_bytes() for path in tmp_path.rglob("*.db*"))
    for secret in KNOWN_SECRETS:
        assert secret not in logged, "a plaintext secret was logged"
        assert secret.encode() not in stored, "a plaintext secret is in the database file"


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    async with served(FakeOpenAI()) as fake:
        yield fake


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    async with Runtime() as runtime:
        yield runtime


@pytest.fixture
def deepseek(fake_openai: FakeOpenAI) -> dict[str, str]:
    """Credentials for the deepseek provider, pointed at the fake."""
    return {"api_key": SECRET, "endpoint_url": f"{fake_openai.url}/v1"}


@pytest.fixture
async def database(backend: str, tmp_path: Path) -> AsyncIterator[tuple[str, str | None]]:
    """A fresh database: a file for SQLite, a throwaway schema for PostgreSQL (`backend` comes from the folder)."""
    if backend == "sqlite":
        yield backend, None
        return
    import asyncpg

    schema = f"t_{secrets.token_hex(6)}"
    connection = await asyncpg.connect(postgres_url(driver=False))
    await connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield backend, schema
    finally:
        await connection.execute(f"DROP SCHEMA {schema} CASCADE")
        await connection.close()


@pytest.fixture
def openai_credentials(fake_openai: FakeOpenAI) -> dict[str, str]:
    return {"openai_api_key": SECRET, "openai_api_base": fake_openai.url}
