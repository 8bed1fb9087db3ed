"""Running a command's async work: one event loop, around Services started and closed properly."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from modelyard.cli.home import check_database, prepare_home, require_files
from modelyard.settings import Settings

if TYPE_CHECKING:
    from modelyard.services.context import Services

T = TypeVar("T")
_Command = TypeVar("_Command", bound=Callable[..., Any])


def workspace_option(command: _Command) -> _Command:
    return click.option(
        "--workspace",
        "workspace_id",
        required=True,
        metavar="ID",
        help="Workspace id (see `modelyard workspace list`).",
    )(command)


def run(work: Callable[[Services], Awaitable[T]], *, workspace_id: str | None = None, may_create: bool = False) -> T:
    """Run `work` with started Services in a fresh event loop and close them after, whatever happens.

    Closing flushes what the services write in the background (usage records, API key last-used times, quota
    ledger rows), so a command that ends a second after its write loses nothing. With `workspace_id`, an
    unknown workspace is refused first, so a mistyped id says so instead of listing nothing. Only a command
    that can do its job on a new, empty database (`may_create`: workspace create, ...) may create the home, the
    database and the master key; any other refuses, saying where it looked, when they are not there.
    """
    return asyncio.run(_run(work, workspace_id, may_create))


async def _run(work: Callable[[Services], Awaitable[T]], workspace_id: str | None, may_create: bool) -> T:
    from modelyard.services.context import Services  # here, not above: `--help` need not load the services

    settings = Settings.from_env()
    if may_create:
        prepare_home(settings)
    else:
        require_files(settings)
    services = Services(settings)
    try:
        await check_database(services.engine, settings, needs_tables=not may_create)
        await services.start_for_command()  # each service is built (and its module imported) when `work` uses it
        if workspace_id is not None:
            await services.workspaces.get(workspace_id)
        return await work(services)
    finally:
        await services.close()
