"""Running a command's async work: one event loop, around Services started and closed properly."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

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


def run(work: Callable[[Services], Awaitable[T]], *, workspace_id: str | None = None) -> T:
    """Run `work` with started Services in a fresh event loop and close them after, whatever happens.

    Closing flushes what the services write in the background (usage records, API key last-used times, quota
    ledger rows), so a command that ends a second after its write loses nothing. With `workspace_id`, an
    unknown workspace is refused first, so a mistyped id says so instead of listing nothing.
    """
    return asyncio.run(_run(work, workspace_id))


async def _run(work: Callable[[Services], Awaitable[T]], workspace_id: str | None) -> T:
    from modelyard.services.context import Services  # here, not above: `--help` need not load the services

    services = Services(Settings.from_env())
    try:
        await services.start()
        if workspace_id is not None:
            await services.workspaces.get(workspace_id)
        return await work(services)
    finally:
        await services.close()
