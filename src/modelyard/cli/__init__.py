"""The `modelyard` command: serve the API and console, and administer workspaces from a shell.

Every command reads the same environment as `serve` (MODELYARD_HOME, MODELYARD_DATABASE_URL, MODELYARD_SECRET_KEY,
...) and takes `--json`, which prints exactly one JSON document on stdout.
"""

from __future__ import annotations

from typing import Any

import click

from modelyard._version import __version__
from modelyard.cli import (
    account,
    apikey,
    credential,
    db,
    default,
    migrate,
    model,
    provider,
    quota,
    serve,
    usage,
    workspace,
)
from modelyard.cli.output import one_line
from modelyard.errors import ModelyardError

__all__ = ["main", "modelyard"]


class ModelyardGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        """Show a deliberate modelyard error as one line on stderr with exit code 1, never as a traceback."""
        try:
            return super().invoke(ctx)
        except ModelyardError as exc:
            raise click.ClickException(one_line(exc)) from exc


@click.group(cls=ModelyardGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="modelyard")
def modelyard() -> None:
    """A self-hosted hub for AI model providers: one API for every model of every workspace."""


for command in (
    serve.serve,
    migrate.migrate_command,
    workspace.workspace,
    account.account,
    apikey.apikey,
    provider.provider,
    credential.credential,
    model.model,
    default.default,
    quota.quota,
    usage.usage,
    db.db,
):
    modelyard.add_command(command)


def main() -> None:
    modelyard(prog_name="modelyard")
