"""Start-up cost: each command imports only what it needs (DESIGN §9: every CLI command starts in < 0.5 s).

Timing a process is noise on a shared machine, so these tests read what a real `modelyard` process imported
(`python -X importtime`, on stderr) and fail when a command pulls in a heavy library it has no use for.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from modelyard.cli import COMMANDS, modelyard
from tests.support.cli import Cli

# Each costs 30-300 ms to import, and none is needed to print help or to list workspaces.
HEAVY = (
    "aiohttp",
    "sqlalchemy.ext.asyncio",
    "cryptography",
    "pydantic",
    "yaml",
    "alembic",
    "tiktoken",
    "fastapi",
    "starlette",
    "redis",
    "argon2",
    "modelyard.runtime.invoke",
    "modelyard.protocols",
    "modelyard.services.governance",
)


def imported_by(*args: str, cwd: Path | None = None) -> set[str]:
    """The modules a `modelyard ARGS` process imported, as `python -X importtime` reports them."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "modelyard.cli", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        cwd=cwd,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$", done.stderr, re.MULTILINE))


def heavy_among(modules: set[str], heavy: tuple[str, ...] = HEAVY) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(f"{h}.") for h in heavy))


@pytest.fixture(autouse=True)
def compiled_catalog_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the compiled catalog of this test alone


def test_help_imports_no_command_and_no_heavy_library() -> None:
    modules = imported_by("--help")

    assert "click" in modules
    assert heavy_among(modules) == []
    assert heavy_among(modules, ("sqlalchemy", "modelyard.services", "modelyard.catalog")) == []
    assert not {m for m in modules if m.startswith("modelyard.cli.") and m != "modelyard.cli.output"}


def test_workspace_list_loads_the_workspace_service_alone(cli: Cli, workspace: str) -> None:
    modules = imported_by("workspace", "list")

    assert "modelyard.services.workspaces" in modules
    assert heavy_among(modules, tuple(h for h in HEAVY if h not in ("sqlalchemy.ext.asyncio", "cryptography"))) == []
    assert heavy_among(modules, ("modelyard.catalog", "modelyard.services.snapshot", "modelyard.services.quota")) == []


def test_workspace_create_and_quota_show_do_not_build_the_runtime(cli: Cli, workspace: str) -> None:
    runtime = ("aiohttp", "modelyard.runtime.invoke", "modelyard.protocols")

    assert heavy_among(imported_by("workspace", "create", "Second"), runtime) == []
    assert heavy_among(imported_by("quota", "show", "--workspace", workspace), runtime) == []


def test_apikey_list_reads_the_policy_schema_without_the_admission_machinery(cli: Cli, workspace: str) -> None:
    modules = imported_by("apikey", "list", "--workspace", workspace)

    assert "modelyard.services.governance.policy" in modules
    assert heavy_among(modules, ("aiohttp", "modelyard.catalog", "modelyard.services.governance.admission")) == []


def test_model_list_compiles_the_catalog_once_for_the_commands_after_it(
    cli: Cli, workspace: str, tmp_path: Path
) -> None:
    imported_by("model", "list", "--workspace", workspace)
    compiled = list((tmp_path / "cache" / "modelyard").glob("catalog-*.pickle"))
    written = [path.stat().st_mtime_ns for path in compiled]
    second = imported_by("model", "list", "--workspace", workspace)

    assert len(compiled) == 1
    assert [path.stat().st_mtime_ns for path in compiled] == written  # read, not written again
    assert heavy_among(second, ("aiohttp", "alembic", "modelyard.protocols", "modelyard.runtime.invoke")) == []


def test_a_database_at_the_head_revision_is_not_handed_to_alembic(cli: Cli, workspace: str) -> None:
    assert "alembic" not in imported_by("credential", "list", "--workspace", workspace)
    assert "alembic" not in imported_by("migrate")


def test_the_top_level_help_shows_each_commands_own_summary() -> None:
    context = click.Context(modelyard)
    for name, (_, summary) in COMMANDS.items():
        command = modelyard.get_command(context, name)
        assert command is not None, name
        assert command.get_short_help_str(limit=1000) == summary, f"COMMANDS[{name!r}] differs from its help"


def test_help_lists_every_command(cli: Cli) -> None:
    listed = cli("--help").stdout.split("Commands:", 1)[1]

    assert [line.split()[0] for line in listed.strip().splitlines()] == sorted(COMMANDS)


def test_version_reads_the_installed_distribution(cli: Cli) -> None:
    from modelyard._version import __version__

    assert cli("--version").stdout == f"modelyard, version {__version__}\n"
