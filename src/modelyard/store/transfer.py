"""Copy every row from one database to another (SQLite to PostgreSQL, for instance), schema migrated first.

Secrets stay sealed: rows move byte for byte, so the same master key opens them on the other side.
"""

from __future__ import annotations

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from modelyard.errors import ModelyardError
from modelyard.store.database import create_engine, migrate
from modelyard.store.tables import Base

_BATCH = 1000


class TransferError(ModelyardError):
    """The target database is not empty, or a row could not be copied."""


async def copy_database(source_url: str, target_url: str, *, target_schema: str | None = None) -> dict[str, int]:
    """Migrate the target to the current schema and copy every table into it; returns rows copied per table."""
    source = create_engine(source_url)
    target = create_engine(target_url, schema=target_schema)
    try:
        await migrate(source)  # both sides on the same schema version
        await migrate(target)
        await _require_empty(target)
        copied = {}
        async with source.connect() as reader, target.begin() as writer:
            for table in Base.metadata.sorted_tables:  # parents before children: foreign keys hold
                count = 0
                result = await reader.stream(select(table))
                async for rows in result.partitions(_BATCH):
                    await writer.execute(insert(table), [dict(row._mapping) for row in rows])
                    count += len(rows)
                copied[table.name] = count
            if writer.dialect.name == "postgresql":
                await _reset_sequences(writer)
        return copied
    finally:
        await source.dispose()
        await target.dispose()


async def _require_empty(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if await connection.scalar(select(func.count()).select_from(table)):
                raise TransferError(f"the target database already has rows in {table.name}; copy into an empty one")


async def _reset_sequences(connection: AsyncConnection) -> None:
    # Copied rows carry their ids: move each serial column's sequence past the largest one.
    for table in Base.metadata.sorted_tables:
        for column in table.primary_key.columns:
            if column.autoincrement is True or (column.autoincrement == "auto" and column.type.python_type is int):
                await connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                        f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false)"
                    )
                )
