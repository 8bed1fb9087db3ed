"""The `modelyard` command: serve the API and console, and administer workspaces from a shell.

Every command reads the same environment as `serve` (MODELYARD_HOME, MODELYARD_DATABASE_URL, MODELYARD_SECRET_KEY,
...) and takes `--json`, which prints exactly one JSON document on stdout, or for a failure one on stderr.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

import click

from modelyard._version import __version__
from modelyard.cli import (
    account,
    apikey,
    cache,
    credential,
    db,
    default,
    limits,
    migrate,
    model,
    provider,
    quota,
    serve,
    task,
    usage,
    workspace,
)
from modelyard.cli.output import JSON_ERRORS, CommandError, CommandUsageError, one_line, snake_case
from modelyard.errors import ModelNotFoundError, ModelyardError, NotFoundError

__all__ = ["main", "modelyard"]


class ModelyardGroup(click.Group):
    """Shows every deliberate failure on stderr in one line (or one JSON document with --json), never a traceback."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        as_json = _asks_for_json(args)  # until the command's own --json is parsed, which then decides
        try:
            ctx = super().make_context(info_name, args, parent, **extra)
        except click.ClickException as exc:
            _reraise(exc, as_json)
        ctx.meta[JSON_ERRORS] = as_json
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ModelyardError, click.ClickException, click.Abort) as exc:
            _reraise(exc, bool(ctx.meta.get(JSON_ERRORS)))


def _reraise(error: ModelyardError | click.ClickException | click.Abort, as_json: bool) -> NoReturn:
    shown = _failure(error, as_json)
    if shown is error:
        raise error
    raise shown from error


def _failure(error: ModelyardError | click.ClickException | click.Abort, as_json: bool) -> Exception:
    if isinstance(error, ModelyardError):
        from modelyard.error_contract import contract_of

        message = one_line(error)
        if isinstance(error, NotFoundError | ModelNotFoundError):
            from modelyard.cli.home import describe_database
            from modelyard.settings import Settings

            message += f" (looked in {describe_database(Settings.from_env())})"
        row = contract_of(type(error))
        return CommandError(message, kind=row.kind.value, code=row.code, as_json=as_json)
    if not as_json or isinstance(error, CommandError):
        return error  # click shows its own: a usage error with the command's usage line, an abort as "Aborted!"
    if isinstance(error, click.Abort):
        return CommandError("aborted", kind="aborted", code="aborted", as_json=True)
    if isinstance(error, click.UsageError):
        return CommandUsageError(
            error.format_message(), kind="usage", code=snake_case(type(error).__name__), as_json=True
        )
    kind, code = getattr(error, "kind", "invalid_request"), getattr(error, "code", "invalid_request")
    return CommandError(error.format_message(), kind=kind, code=code, as_json=True)


def _asks_for_json(args: Sequence[str]) -> bool:
    end = args.index("--") if "--" in args else len(args)
    return "--json" in args[:end]


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
    limits.limits,
    cache.cache,
    provider.provider,
    credential.credential,
    model.model,
    default.default,
    quota.quota,
    usage.usage,
    task.task,
    db.db,
):
    modelyard.add_command(command)


def main() -> None:
    modelyard(prog_name="modelyard")
