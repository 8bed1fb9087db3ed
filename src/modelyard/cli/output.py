"""What every command prints: one JSON document with `--json`, short human text without it.

A failure goes to stderr with a non-zero exit code: `Error: ...` on one line, or with `--json` one JSON document,
`{"error": {"message": ..., "type": ..., "code": ...}}`, so stdout only ever holds a command's result.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import IO, Any, TypeVar

import click
import msgspec
import orjson

_Command = TypeVar("_Command", bound=Callable[..., Any])

_JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS


JSON_ERRORS = "modelyard.json_errors"  # in click's Context.meta, shared by a command and its parent groups


def json_option(command: _Command) -> _Command:
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        is_eager=True,  # read before the other options, so an error in one of them is already shown as JSON
        callback=_remember_json,
        help="Print one JSON document on stdout (an error: one on stderr).",
    )(command)


class CommandError(click.ClickException):
    """A failure shown on stderr as `Error: message`, or as one JSON document when the command was given --json.

    `kind` and `code` are those of the error contract (`modelyard.error_contract`) that every face shares: kind
    `not_found`, code `not_found` for a workspace that does not exist; a bad command line is kind `usage`.
    """

    def __init__(self, message: str, *, kind: str, code: str, as_json: bool) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.as_json = as_json

    def show(self, file: IO[Any] | None = None) -> None:
        if not self.as_json:
            super().show(file)
            return
        document = {"error": {"message": self.message, "type": self.kind, "code": self.code}}
        click.echo(orjson.dumps(document).decode(), file=file, err=True)


class CommandUsageError(CommandError):
    """A bad command line (unknown option, bad value ...) shown as JSON: click's exit code 2, as without --json."""

    exit_code = 2


def snake_case(class_name: str) -> str:
    """A code from a click error's class name: NoSuchOption → no_such_option, UsageError → usage."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name.removesuffix("Error") or class_name).lower()


def emit(data: object, as_json: bool, *, text: str | Callable[[], str]) -> None:
    """Print `data` as JSON, or the human `text` (built only when it is needed)."""
    if as_json:
        click.echo(orjson.dumps(data, default=_plain, option=_JSON_OPTIONS).decode())
    else:
        click.echo(text() if callable(text) else text)


def table(rows: Sequence[Sequence[object]], headers: Sequence[str], *, empty: str) -> str:
    """Rows as left-aligned columns under upper-case headers; `empty` when there are none."""
    if not rows:
        return empty
    cells = [[str(h).upper() for h in headers], *([_cell(value) for value in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def one_line(error: BaseException) -> str:
    """An error's message on one line, for a terminal."""
    message = " ".join(part.strip() for part in str(error).splitlines() if part.strip())
    return message or type(error).__name__


def _remember_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    ctx.meta[JSON_ERRORS] = value
    return value


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


def _plain(value: object) -> object:
    if isinstance(value, msgspec.Struct):  # runtime values (RemoteModel, Usage ...) are msgspec structs
        return msgspec.structs.asdict(value)
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"  # exact and fixed-point: a float would round prices, str() may say 0E-10
    if isinstance(value, frozenset | set):
        return sorted(value)
    raise TypeError(f"cannot print a {type(value).__name__} as JSON")
