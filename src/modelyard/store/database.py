"""The async engine and session factory, and schema migration at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from modelyard.settings import SettingsError

MIGRATIONS = Path(__file__).parent / "migrations"


def create_engine(url: str, *, schema: str | None = None) -> AsyncEngine:
    if url.startswith("sqlite"):
        _make_parent_dir(url)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = {"server_settings": {"search_path": schema}} if schema else {}
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, connect_args=connect_args)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")  # SQLite ignores foreign keys unless asked, per connection
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # with WAL: no corruption on a crash, far cheaper commits
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _make_parent_dir(url: str) -> None:
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to `revision` (Alembic); safe to run on every start, and cheap when already at the head."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)


def require_schema(connection: Connection) -> None:
    """Refuse, in one line, a PostgreSQL search_path that names no existing schema.

    That is MODELYARD_DATABASE_SCHEMA misspelt or not created yet: PostgreSQL accepts the setting, and the first
    CREATE TABLE then fails three tracebacks deep ("no schema has been selected to create in").
    """
    if connection.dialect.name != "postgresql":
        return
    if connection.exec_driver_sql("SELECT current_schema()").scalar() is not None:
        return
    search_path = connection.exec_driver_sql("SHOW search_path").scalar()
    database = connection.engine.url.render_as_string(hide_password=True)
    raise SettingsError(
        f"the PostgreSQL schema {search_path} (MODELYARD_DATABASE_SCHEMA) does not exist in {database}; "
        "create it with `modelyard migrate`, or CREATE SCHEMA as a user allowed to"
    )


def _upgrade(connection: Connection, revision: str) -> None:
    require_schema(connection)
    from modelyard.store.revisions import is_at_head

    if revision == "head" and is_at_head(connection):
        return  # without importing Alembic: ~100 ms saved on every start with nothing to do
    from alembic import command  # here: only start-up migrates, and Alembic costs memory for the process's life
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
