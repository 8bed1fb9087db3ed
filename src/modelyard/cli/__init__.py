"""The `modelyard` command: serve the API and console, and administer workspaces from a shell.

Every command reads the same environment as `serve` (MODELYARD_HOME, MODELYARD_DATABASE_URL, MODELYARD_SECRET_KEY,
...) and takes `--json`, which prints exactly one JSON document on stdout, or for a failure one on stderr.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from modelyard.cli.output import JSON_ERRORS, CommandError, CommandUsageError, one_line, snake_case
from modelyard.errors import ModelNotFoundError, ModelyardError, NotFoundError

__all__ = ["main", "modelyard"]


# Each command's module is imported only when that command runs: `modelyard workspace list` loads the workspace
# service, not the runtime, the gateway or the console. `modelyard --help` imports none of them and shows these
# summaries, which tests/cli/test_startup.py holds equal to each command's own help. A new command is one line here.
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("serve:serve", "Run the gateway, the console API and the web console in one service."),
    "migrate": (
        "migrate:migrate_command",
        "Create or update the database named by MODELYARD_DATABASE_URL (SQLite under MODELYARD_HOME by default).",
    ),
    "workspace": ("workspace:workspace", "Workspaces: each has its own providers, keys, models and quota."),
    "account": ("account:account", "Accounts of people who use the web console."),
    "apikey": ("apikey:apikey", "Workspace API keys for the OpenAI-compatible gateway."),
    "limits": ("limits:limits", "Rate, concurrency and budget limits on a whole workspace."),
    "cache": ("cache:cache", "The response cache: identical gateway calls answered from a stored answer."),
    "provider": ("provider:provider", "Model providers."),
    "credential": ("credential:credential", "Provider credentials of a workspace (secrets are shown masked)."),
    "model": ("model:model", "The models a workspace can call."),
    "default": ("default:default", "Default models, one per model type."),
    "alias": ("alias:alias", "Model aliases: a name for ordered, weighted models, with fallback and retries."),
    "quota": ("quota:quota", "Hosted provider quota."),
    "usage": ("usage:usage", "Show the workspace's usage: calls, errors, tokens and price, per group."),
    "task": ("task:task", "The system model's tasks: a conversation's title and follow-up questions."),
    "db": ("db:db", "The database itself."),
}


class ModelyardGroup(click.Group):
    """Shows every deliberate failure on stderr in one line (or one JSON document with --json), never a traceback.

    Its commands are loaded on first use, from `COMMANDS`.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, _, attribute = COMMANDS[cmd_name][0].partition(":")
            self.add_command(getattr(importlib.import_module(f"modelyard.cli.{module}"), attribute), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the summaries in `COMMANDS`, without importing a single command."""
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [
            (name, click.Command(name, help=COMMANDS[name][1]).get_short_help_str(limit)) for name in sorted(COMMANDS)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from modelyard._version import __version__  # here: reading the installed metadata costs ~10 ms

    click.echo(f"modelyard, version {__version__}")
    ctx.exit()


@click.group(cls=ModelyardGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version and exit.",
)
def modelyard() -> None:
    """A self-hosted hub for AI model providers: one API for every model of every workspace."""


def main() -> None:
    modelyard(prog_name="modelyard")
