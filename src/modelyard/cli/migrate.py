"""`modelyard migrate`: bring the database schema up to date (`serve` also does this on start)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import click

from modelyard.cli.output import emit, json_option
from modelyard.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncEngine


@click.command("migrate")
@json_option
def migrate_command(as_json: bool) -> None:
    """Migrate the database named by MODELYARD_DATABASE_URL (SQLite under MODELYARD_HOME by default)."""
    before, after = asyncio.run(_migrate(Settings.from_env()))
    data = {"from_revision": before, "revision": after}
    text = f"Schema is at revision {after}." if before == after else f"Migrated the schema from {before} to {after}."
    emit(data, as_json, text=text)


async def _migrate(settings: Settings) -> tuple[str | None, str | None]:
    from modelyard.store.database import create_engine, migrate

    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        before = await _revision(engine)
        await migrate(engine)
        return before, await _revision(engine)
    finally:
        await engine.dispose()


async def _revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_current_revision)


def _current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()
