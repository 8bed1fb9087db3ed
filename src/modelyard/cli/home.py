"""Where the CLI finds its data, and the rule that only commands able to start from nothing may create it.

The CLI reads the same environment as `serve`: MODELYARD_HOME (default `.modelyard` under the current
directory) holds the SQLite database and the master key file, unless MODELYARD_DATABASE_URL and
MODELYARD_SECRET_KEY say otherwise. A command run in the wrong directory must not quietly make a new, empty
home there and then report that the workspace asked for "does not exist": it says where it looked instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import click

from modelyard.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncEngine

_AS_SERVE = "as `modelyard serve` has them"


class DatabaseNotFoundError(click.ClickException):
    """There is no modelyard database where the environment points, and this command will not create one."""

    kind: ClassVar[str] = "not_found"  # in the words of modelyard.error_contract, for --json
    code: ClassVar[str] = "database_not_found"


class DatabaseUnreachableError(click.ClickException):
    """The database the environment names cannot be opened (server down, wrong address or password)."""

    kind: ClassVar[str] = "server"
    code: ClassVar[str] = "database_unreachable"


def describe_database(settings: Settings) -> str:
    """The database as a person can find it: the SQLite file, or the URL with its password masked."""
    path = sqlite_path(settings)
    if path is not None:
        return str(path)
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url).render_as_string(hide_password=True)
    return f"schema {settings.database_schema} of {url}" if settings.database_schema else url


def sqlite_path(settings: Settings) -> Path | None:
    """The SQLite file, absolute; None for another database or an in-memory one."""
    if not settings.is_sqlite:
        return None
    path = settings.database_url.split("///", 1)[1] if "///" in settings.database_url else ""
    return None if path in ("", ":memory:") else Path(path).resolve()


def prepare_home(settings: Settings) -> None:
    """For commands that may start from nothing: the home directory, readable by its owner only (as `serve`).

    Made only when something goes in it: the key file, or the default SQLite database.
    """
    path = sqlite_path(settings)
    if settings.secret_key is None or (path is not None and path.is_relative_to(settings.home.resolve())):
        settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)


def require_files(settings: Settings) -> None:
    """Refuse in one line, before anything opens (and so creates) them, a missing SQLite file or master key file."""
    path = sqlite_path(settings)
    if path is not None and not path.exists():
        raise DatabaseNotFoundError(
            f"no modelyard database at {path} ({_origin()}); set MODELYARD_HOME or MODELYARD_DATABASE_URL "
            f"{_AS_SERVE}, or create it with `modelyard migrate` (or `make run`)"
        )
    from modelyard.vault import KEY_FILE, MasterKeyError  # here: `--help` need not load the cryptography

    key_file = (settings.home / KEY_FILE).resolve()
    if settings.secret_key is None and not key_file.exists():
        raise MasterKeyError(
            f"no master key: MODELYARD_SECRET_KEY is not set and there is no key file at {key_file}; set "
            f"MODELYARD_SECRET_KEY or MODELYARD_HOME {_AS_SERVE}: the key that sealed this database's secrets"
        )


async def check_database(engine: AsyncEngine, settings: Settings, *, needs_tables: bool = False) -> None:
    """Open the database once before migrating it: unreachable, or no PostgreSQL schema, is a one-line error.

    With `needs_tables`, so is a database never migrated. The connection goes back to the pool for what follows.
    """
    with unreachable_in_one_line(settings):
        async with engine.connect() as connection:
            has_tables = await connection.run_sync(_has_tables if needs_tables else _schema_only)
    if not has_tables:
        raise DatabaseNotFoundError(
            f"no modelyard tables in {describe_database(settings)}; set MODELYARD_DATABASE_URL and "
            f"MODELYARD_DATABASE_SCHEMA {_AS_SERVE}, or create them with `modelyard migrate`"
        )


@contextmanager
def unreachable_in_one_line(settings: Settings) -> Iterator[None]:
    """A database that cannot be reached (down, wrong address, password or file permissions) in one line."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    try:
        yield
    except (OSError, OperationalError, InterfaceError) as exc:
        reason = getattr(exc, "orig", None) or exc  # the driver's words, without SQLAlchemy's background link
        raise DatabaseUnreachableError(f"cannot open {describe_database(settings)}: {reason}") from exc


def _schema_only(connection: Connection) -> bool:
    from modelyard.store.database import require_schema

    require_schema(connection)
    return True


def _has_tables(connection: Connection) -> bool:
    from sqlalchemy import inspect

    _schema_only(connection)
    return inspect(connection).has_table("alembic_version")  # Alembic's own table: migrated at least once


def _origin() -> str:
    if os.environ.get("MODELYARD_DATABASE_URL"):
        return "from MODELYARD_DATABASE_URL"
    if os.environ.get("MODELYARD_HOME"):
        return f"MODELYARD_HOME is {os.environ['MODELYARD_HOME']}"
    return "MODELYARD_HOME is not set: .modelyard in the current directory"
