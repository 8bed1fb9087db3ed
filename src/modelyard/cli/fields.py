"""Credential values from the command line, without putting secrets in shell history.

`FIELD=VALUE` takes the value as typed. `FIELD=-` reads it from stdin (all of it, one trailing newline dropped,
so a multi-line key file works), or asks for it without echo when stdin is a terminal. `--from-env FIELD=VAR`
takes it from an environment variable. Messages about a malformed argument never repeat the argument: it may be
a key typed in the wrong place.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

STDIN = "-"

_Command = TypeVar("_Command", bound=Callable[..., Any])


def fields_argument(command: _Command) -> _Command:
    return click.argument("fields", nargs=-1, metavar="FIELD=VALUE...")(command)


def from_env_option(command: _Command) -> _Command:
    return click.option(
        "--from-env",
        "from_env",
        multiple=True,
        metavar="FIELD=VAR",
        help="Take FIELD's value from environment variable VAR (repeatable).",
    )(command)


def credential_values(fields: tuple[str, ...], from_env: tuple[str, ...] = ()) -> dict[str, str]:
    """The field values given as arguments, from the environment, and (for one `FIELD=-`) from stdin."""
    values: dict[str, str] = {}
    from_stdin: str | None = None
    for position, item in enumerate(fields, start=1):
        field, value = _split(item, f"argument {position}", "FIELD=VALUE", param_hint="FIELD=VALUE")
        if value == STDIN:
            if from_stdin is not None:
                raise click.BadParameter(
                    f"only one field can be read from stdin ({from_stdin} already is); use --from-env for the others",
                    param_hint="FIELD=VALUE",
                )
            from_stdin = field
        _add(values, field, value)
    for position, item in enumerate(from_env, start=1):
        field, variable = _split(item, f"value {position}", "FIELD=VAR", param_hint="--from-env")
        if variable not in os.environ:
            raise click.BadParameter(f"environment variable {variable} is not set", param_hint="--from-env")
        _add(values, field, os.environ[variable])
    if from_stdin is not None:
        values[from_stdin] = read_secret(from_stdin)
    return values


def read_secret(label: str) -> str:
    """A secret from stdin: prompted without echo on a terminal, else everything piped in."""
    stdin = sys.stdin
    if stdin.isatty():
        value: str = click.prompt(label, hide_input=True, err=True)
        return value
    value = stdin.read()
    value = value.removesuffix("\n").removesuffix("\r")
    if not value:
        raise click.BadParameter(f"stdin is empty; pipe the value of {label} in", param_hint=label)
    return value


def _split(item: str, where: str, shape: str, *, param_hint: str) -> tuple[str, str]:
    field, sep, value = item.partition("=")
    if not sep or not field.strip():
        raise click.BadParameter(f"{where} is not {shape}", param_hint=param_hint)
    return field.strip(), value


def _add(values: dict[str, str], field: str, value: str) -> None:
    if field in values:
        raise click.BadParameter(f"field {field} is given twice", param_hint="FIELD=VALUE")
    values[field] = value
