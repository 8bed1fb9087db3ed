"""The CLI, run in-process with click's CliRunner against SQLite under tmp_path.

click 8.2+ keeps stdout and stderr apart in every Result (`result.stdout`, `result.stderr`; `result.output` is
both): there is no `mix_stderr` any more. Commands call `asyncio.run`, so a test whose fake upstream runs on its
own event loop invokes the CLI in a thread (`await cli.in_thread(...)`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from modelyard import vault
from modelyard.cli import modelyard
from modelyard.services.context import Services
from modelyard.settings import Settings

MASTER = "test-master-key-0123456789abcdef0123456789"
# serve and the other commands read or set these: each test starts without them and leaves none behind
_SCRUBBED = (
    "MODELYARD_REDIS_URL",
    "MODELYARD_HOSTED_CONFIG",
    "MODELYARD_DATABASE_SCHEMA",
    "MODELYARD_HOST",
    "MODELYARD_PORT",
    "MODELYARD_OWNER_EMAIL",
    "MODELYARD_OWNER_PASSWORD",
    "PROMETHEUS_MULTIPROC_DIR",
)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("MODELYARD_HOME", str(home))
    monkeypatch.setenv("MODELYARD_DATABASE_URL", f"sqlite+aiosqlite:///{home / 'modelyard.db'}")
    monkeypatch.setenv("MODELYARD_SECRET_KEY", MASTER)
    for name in _SCRUBBED:
        monkeypatch.setenv(name, "")  # recorded, so a value a command sets is undone after the test
        monkeypatch.delenv(name)
    monkeypatch.setattr(vault, "RSA_BITS", 2048)  # keys stay ≥ 2048 bits; 3072 only slows the suite
    return home


class Cli:
    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(modelyard, list(args), input=input, catch_exceptions=False)

    def json(self, *args: str, input: str | None = None) -> Any:
        """Run with --json; the command must succeed and print exactly one JSON document on stdout."""
        result = self(*args, "--json", input=input)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    async def in_thread(self, *args: str, input: str | None = None) -> Result:
        return await asyncio.to_thread(self, *args, input=input)

    async def json_in_thread(self, *args: str, input: str | None = None) -> Any:
        return await asyncio.to_thread(self.json, *args, input=input)


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture
def workspace(cli: Cli) -> str:
    return str(cli.json("workspace", "create", "Acme")["id"])


@asynccontextmanager
async def started_services() -> AsyncIterator[Services]:
    """Services on the same environment as the CLI, to look behind a command or to set data up."""
    services = Services(Settings.from_env())
    await services.start()
    try:
        yield services
    finally:
        await services.close()
