"""The CLI, run in-process with click's CliRunner against SQLite under tmp_path.

click 8.2+ keeps stdout and stderr apart in every Result (`result.stdout`, `result.stderr`; `result.output` is
both): there is no `mix_stderr` any more. Commands call `asyncio.run`, so a test whose fake upstream runs on its
own event loop invokes the CLI in a thread (`await cli.in_thread(...)`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard import vault
from tests.support import MASTER
from tests.support.cli import Cli

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


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture
def workspace(cli: Cli) -> str:
    return str(cli.json("workspace", "create", "Acme")["id"])
