"""`modelyard db copy SOURCE TARGET`: move every row to another database (SQLite to PostgreSQL, say)."""

from __future__ import annotations

import asyncio

import click

from modelyard.cli.output import emit, json_option


@click.group()
def db() -> None:
    """The database itself."""


@db.command("copy")
@click.argument("source_url")
@click.argument("target_url")
@click.option("--target-schema", default=None, help="PostgreSQL schema to put the tables in.")
@json_option
def db_copy(source_url: str, target_url: str, target_schema: str | None, as_json: bool) -> None:
    """Copy every table into an empty database, after migrating both to the current schema.

    Stop the service first. Secrets move sealed: start the new database with the same master key.

    \b
        modelyard db copy sqlite+aiosqlite:///.modelyard/modelyard.db postgresql+asyncpg://u:p@host/modelyard
    """
    from modelyard.store.transfer import copy_database

    copied = asyncio.run(copy_database(source_url, target_url, target_schema=target_schema))
    emit(copied, as_json, text=f"Copied {sum(copied.values())} rows in {len(copied)} tables.")
