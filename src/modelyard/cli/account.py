"""`modelyard account create`: accounts sign in to the web console and the console API."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from modelyard.cli.fields import read_secret
from modelyard.cli.output import emit, json_option
from modelyard.cli.running import run

if TYPE_CHECKING:
    from modelyard.services.accounts import AccountView, MemberView
    from modelyard.services.context import Services

ROLES = ("owner", "admin", "member")  # as in services/accounts.py, which checks them again


@click.group()
def account() -> None:
    """Accounts of people who use the web console."""


@account.command("create")
@click.option("--email", required=True, help="Sign-in email.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (else it is asked for).")
@click.option("--name", default="", help="Display name.")
@click.option("--workspace", "workspace_id", metavar="ID", default=None, help="Make the account a member here.")
@click.option("--role", type=click.Choice(ROLES), default=None, help="Role in --workspace.  [default: member]")
@json_option
def account_create(
    email: str, password_stdin: bool, name: str, workspace_id: str | None, role: str | None, as_json: bool
) -> None:
    """Create an account, optionally as a member of a workspace.

    The password never goes on the command line:

    \b
        printf '%s' "$PASSWORD" | modelyard account create --email ada@example.com --password-stdin \\
            --workspace ws_... --role admin
    """
    if role is not None and workspace_id is None:
        raise click.UsageError("--role needs --workspace")
    password = _read_password(password_stdin)

    async def create(services: Services) -> tuple[AccountView, MemberView | None]:
        if workspace_id is not None:
            await services.workspaces.get(workspace_id)  # before the account exists: no orphan on a typo
        created = await services.accounts.create(email=email, password=password, name=name)
        if workspace_id is None:
            return created, None
        member = await services.accounts.add_member(
            workspace_id=workspace_id, account_id=created.id, role=role or "member"
        )
        return created, member

    created, member = run(create, may_create=workspace_id is None)  # a first account may start a new home
    data = {
        "id": created.id,
        "email": created.email,
        "name": created.name,
        "workspace": None if member is None else {"id": workspace_id, "role": member.role},
    }
    text = f"Created account {created.email}: {created.id}"
    if member is not None:
        text += f"\nMember of {workspace_id} as {member.role}."
    emit(data, as_json, text=text)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return read_secret("password")
    if not sys.stdin.isatty():
        raise click.UsageError("give --password-stdin to read the password from a pipe")
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return password
