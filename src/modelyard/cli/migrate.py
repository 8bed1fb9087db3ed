"""`modelyard migrate`: create or update the database schema (`serve` also migrates on start)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import click

from modelyard.cli.home import check_database, describe_database, prepare_home, unreachable_in_one_line
from modelyard.cli.output import emit, json_option
from modelyard.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncEngine


@click.command("migrate")
@json_option
def migrate_command(as_json: bool) -> None:
    """Create or update the database named by MODELYARD_DATABASE_URL (SQLite under MODELYARD_HOME by default).

    A new home is made ready for every other command: its directory, the database, the PostgreSQL schema
    named by MODELYARD_DATABASE_SCHEMA (CREATE SCHEMA IF NOT EXISTS), and, without MODELYARD_SECRET_KEY, the
    master key file.
    """
    settings = Settings.from_env()
    prepare_home(settings)
    from modelyard.vault import MasterKey

    MasterKey.load(settings.secret_key, settings.home)  # creates the key file on first run, as `serve` would
    before, after = asyncio.run(_migrate(settings))
    data = {"database": describe_database(settings), "from_revision": before, "revision": after}
    if before == after:
        text = f"Schema is at revision {after} in {data['database']}."
    else:
        text = f"Migrated the schema from {before} to {after} in {data['database']}."
    emit(data, as_json, text=text)


async def _migrate(settings: Settings) -> tuple[str | None, str | None]:
    from modelyard.store.database import create_engine, migrate

    if settings.database_schema and not settings.is_sqlite:
        await _create_schema(settings.database_schema, settings)
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        await check_database(engine, settings)  # unreachable: one line, not a traceback
        before = await _revision(engine)
        await migrate(engine)
        return before, await _revision(engine)
    finally:
        await engine.dispose()


async def _create_schema(schema: str, settings: Settings) -> None:
    from sqlalchemy.schema import CreateSchema

    from modelyard.store.database import create_engine

    engine = create_engine(settings.database_url)  # no search_path: the schema is not there yet
    try:
        with unreachable_in_one_line(settings):
            async with engine.begin() as connection:
                await connection.execute(CreateSchema(schema, if_not_exists=True))
    finally:
        await engine.dispose()


async def _revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_current_revision)


def _current_revision(connection: Connection) -> str | None:
    from modelyard.store.revisions import database_revisions  # not Alembic: ~100 ms when there is nothing to do

    return ",".join(sorted(database_revisions(connection))) or None
