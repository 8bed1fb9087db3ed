"""How the CLI finds its home: a command that needs data never creates a home, a database or a master key."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from modelyard.cli.home import describe_database
from modelyard.settings import Settings
from tests.support import MASTER
from tests.support.cli import Cli

NEEDS_DATA = [
    ["workspace", "list"],
    ["apikey", "list", "--workspace", "ws_1"],
    ["credential", "list", "--workspace", "ws_1"],
    ["model", "list", "--workspace", "ws_1"],
    ["default", "get", "--workspace", "ws_1"],
    ["quota", "show", "--workspace", "ws_1"],
    ["usage", "--workspace", "ws_1"],
    ["provider", "list", "--workspace", "ws_1"],
    ["apikey", "create", "--workspace", "ws_1", "--name", "ci"],
    ["credential", "set", "--workspace", "ws_1", "deepseek", "api_key=sk-x", "--no-validate"],
]


def test_a_command_run_where_there_is_no_home_says_where_it_looked_and_creates_nothing(tmp_path: Path) -> None:
    """A real process in an empty directory, with none of the variables set: the new user's first command."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    command = [sys.executable, "-m", "modelyard.cli", "workspace", "list"]

    text = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60)
    as_json = subprocess.run(
        [*command, "--json"], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60
    )

    expected_path = tmp_path.resolve() / ".modelyard" / "modelyard.db"
    assert text.returncode == 1 and text.stdout == ""
    assert text.stderr.count("\n") == 1, text.stderr
    assert text.stderr.startswith(f"Error: no modelyard database at {expected_path} (MODELYARD_HOME is not set")
    assert "MODELYARD_DATABASE_URL" in text.stderr and "`modelyard migrate`" in text.stderr
    assert as_json.returncode == 1 and as_json.stdout == ""
    assert json.loads(as_json.stderr)["error"]["code"] == "database_not_found"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", NEEDS_DATA, ids=lambda args: " ".join(args[:2]))
def test_a_command_that_needs_data_creates_no_home(cli: Cli, home: Path, args: list[str]) -> None:
    result = cli(*args)

    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: no modelyard database at {home / 'modelyard.db'} (from MODELYARD_DATABASE_URL); set "
        "MODELYARD_HOME or MODELYARD_DATABASE_URL as `modelyard serve` has them, or create it with `modelyard migrate` "
        "(or `make run`)\n"
    )
    assert not home.exists()


def test_a_database_without_modelyard_tables_is_refused_and_left_as_it_was(cli: Cli, home: Path) -> None:
    home.mkdir()
    sqlite3.connect(home / "modelyard.db").close()  # an empty file, as a stray `sqlite3` run leaves one

    result = cli("workspace", "list")

    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: no modelyard tables in {home / 'modelyard.db'};")
    with sqlite3.connect(home / "modelyard.db") as database:
        assert database.execute("SELECT name FROM sqlite_master").fetchall() == []


def test_a_missing_master_key_file_is_refused_and_not_made_anew(
    cli: Cli, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELYARD_SECRET_KEY")
    cli.json("workspace", "create", "Acme")
    key_file = home / "master.key"
    key_file.unlink()  # the home was copied without its key, or MODELYARD_HOME points at another directory

    result = cli("workspace", "list")

    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"Error: no master key: MODELYARD_SECRET_KEY is not set and there is no key file at {key_file};"
    )
    assert not key_file.exists()


def test_a_missing_workspace_names_the_database_it_was_looked_for_in(cli: Cli, workspace: str, home: Path) -> None:
    result = cli("apikey", "list", "--workspace", "ws_missing")

    assert result.exit_code == 1
    assert result.stderr == f"Error: workspace 'ws_missing' does not exist (looked in {home / 'modelyard.db'})\n"


def test_workspace_create_makes_a_home_only_its_owner_can_read(cli: Cli, home: Path) -> None:
    cli.json("workspace", "create", "Acme")

    assert (home / "modelyard.db").exists()
    assert home.stat().st_mode & 0o777 == 0o700


def test_migrate_makes_a_new_home_ready_for_every_other_command(
    cli: Cli, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELYARD_SECRET_KEY")

    migrated = cli.json("migrate")

    assert migrated["database"] == str(home / "modelyard.db")
    assert migrated["from_revision"] is None and migrated["revision"]
    assert (home / "master.key").stat().st_mode & 0o777 == 0o600
    assert cli.json("workspace", "list") == []


def test_the_database_is_described_without_its_password() -> None:
    settings = Settings.from_env(
        {
            "MODELYARD_DATABASE_URL": "postgresql+asyncpg://modelyard:s3cret-pw@db.internal:5432/modelyard",
            "MODELYARD_DATABASE_SCHEMA": "tenant_a",
            "MODELYARD_SECRET_KEY": MASTER,
        }
    )

    assert (
        describe_database(settings)
        == "schema tenant_a of postgresql+asyncpg://modelyard:***@db.internal:5432/modelyard"
    )
