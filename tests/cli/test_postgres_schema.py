"""MODELYARD_DATABASE_SCHEMA naming a schema that does not exist, on the real PostgreSQL (127.0.0.1:5432, `test`)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import make_url

from tests.support import postgres_url, require_postgres
from tests.support.cli import Cli


@pytest.fixture
async def missing_schema(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """A schema name nobody created; dropped afterwards, whatever a command made of it."""
    require_postgres()
    import asyncpg

    schema = f"t_cli_{secrets.token_hex(6)}"
    monkeypatch.setenv("MODELYARD_DATABASE_URL", postgres_url())
    monkeypatch.setenv("MODELYARD_DATABASE_SCHEMA", schema)
    try:
        yield schema
    finally:
        connection = await asyncpg.connect(postgres_url(driver=False))
        try:
            await connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        finally:
            await connection.close()


def masked_postgres_url() -> str:
    return make_url(postgres_url()).render_as_string(hide_password=True)


async def schema_exists(schema: str) -> bool:
    import asyncpg

    connection = await asyncpg.connect(postgres_url(driver=False))
    try:
        return bool(await connection.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema))
    finally:
        await connection.close()


@pytest.mark.parametrize("args", [["workspace", "list"], ["workspace", "create", "Acme"]], ids=["reads", "writes"])
async def test_a_missing_schema_is_one_line_saying_how_to_create_it(
    cli: Cli, missing_schema: str, args: list[str]
) -> None:
    result = await cli.in_thread(*args)

    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: the PostgreSQL schema {missing_schema} (MODELYARD_DATABASE_SCHEMA) does not exist in "
        f"{masked_postgres_url()}; create it with `modelyard migrate`, or CREATE SCHEMA as a user allowed to\n"
    )
    assert not await schema_exists(missing_schema)


async def test_migrate_creates_the_missing_schema_and_the_tables_in_it(cli: Cli, missing_schema: str) -> None:
    migrated = await cli.json_in_thread("migrate")
    created = await cli.json_in_thread("workspace", "create", "Acme")

    assert migrated["database"] == f"schema {missing_schema} of {masked_postgres_url()}"
    assert migrated["from_revision"] is None and migrated["revision"]
    assert await schema_exists(missing_schema)
    assert [w["id"] for w in await cli.json_in_thread("workspace", "list")] == [created["id"]]
