"""Migration 0001 and later ones bring an empty database to exactly the tables the code declares."""

from __future__ import annotations

import secrets
from pathlib import Path

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from modelyard.store.database import create_engine, migrate
from modelyard.store.tables import Base
from tests.support import postgres_url, require_postgres


async def schema_differences(url: str, schema: str | None = None) -> list[object]:
    engine = create_engine(url, schema=schema)
    try:
        await migrate(engine)
        await migrate(engine)  # running it again is harmless
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                )
            )
    finally:
        await engine.dispose()


async def test_sqlite_schema_matches_the_tables(tmp_path: Path) -> None:
    assert await schema_differences(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}") == []


async def test_postgresql_schema_matches_the_tables() -> None:
    require_postgres()
    schema = f"t_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(postgres_url(driver=False))
    await admin.execute(f"CREATE SCHEMA {schema}")
    try:
        assert await schema_differences(postgres_url(), schema) == []
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()
