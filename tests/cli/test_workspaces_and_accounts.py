from __future__ import annotations

import asyncio
from pathlib import Path

from modelyard.services.accounts import AccountView
from tests.support.cli import Cli, started_services


def test_workspace_create_prints_its_id_and_name(cli: Cli) -> None:
    created = cli.json("workspace", "create", "  Acme  ")

    assert set(created) == {"id", "name"}
    assert created["id"].startswith("ws_")
    assert created["name"] == "Acme"


def test_workspace_list_shows_created_workspaces_in_order(cli: Cli) -> None:
    first = cli.json("workspace", "create", "One")["id"]
    second = cli.json("workspace", "create", "Two")["id"]

    listed = cli.json("workspace", "list")
    text = cli("workspace", "list").stdout

    assert [(w["id"], w["name"]) for w in listed] == [(first, "One"), (second, "Two")]
    assert first in text and second in text


def test_workspace_delete_with_yes_removes_it(cli: Cli, workspace: str) -> None:
    deleted = cli.json("workspace", "delete", workspace, "--yes")

    assert deleted == {"id": workspace, "deleted": True}
    assert cli.json("workspace", "list") == []


def test_workspace_delete_without_yes_asks_and_keeps_it_on_no(cli: Cli, workspace: str) -> None:
    result = cli("workspace", "delete", workspace, input="n\n")

    assert result.exit_code == 1
    assert [w["id"] for w in cli.json("workspace", "list")] == [workspace]


def test_account_create_reads_the_password_from_stdin_and_joins_the_workspace(cli: Cli, workspace: str) -> None:
    password = "correct horse battery staple"

    created = cli.json(
        "account", "create", "--email", "Ada@Example.com", "--password-stdin", "--workspace", workspace,
        "--role", "admin", input=f"{password}\n",
    )  # fmt: skip

    assert created["email"] == "ada@example.com"
    assert created["workspace"] == {"id": workspace, "role": "admin"}

    async def check() -> tuple[AccountView, str | None]:
        async with started_services() as services:
            account = await services.accounts.authenticate(email="ada@example.com", password=password)
            return account, await services.accounts.role_of(workspace_id=workspace, account_id=account.id)

    account, role = asyncio.run(check())  # the trailing newline is not part of the password
    assert (account.id, role) == (created["id"], "admin")


def test_account_create_in_an_unknown_workspace_creates_no_account(cli: Cli, workspace: str, home: Path) -> None:
    result = cli(
        "account", "create", "--email", "ada@example.com", "--password-stdin", "--workspace", "ws_missing",
        input="long enough password\n",
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stderr == f"Error: workspace 'ws_missing' does not exist (looked in {home / 'modelyard.db'})\n"
    assert cli.json("account", "create", "--email", "ada@example.com", "--password-stdin", input="another pw!")["id"]


def test_account_create_without_password_stdin_from_a_pipe_is_a_usage_error(cli: Cli) -> None:
    result = cli("account", "create", "--email", "ada@example.com", input="secret-password\n")

    assert result.exit_code == 2
    assert "--password-stdin" in result.stderr
    assert "secret-password" not in result.output


def test_account_create_with_role_but_no_workspace_is_a_usage_error(cli: Cli) -> None:
    result = cli("account", "create", "--email", "ada@example.com", "--password-stdin", "--role", "admin")

    assert result.exit_code == 2
    assert "--role needs --workspace" in result.stderr


def test_account_create_with_a_short_password_fails_in_one_line(cli: Cli) -> None:
    result = cli("account", "create", "--email", "ada@example.com", "--password-stdin", input="short\n")

    assert result.exit_code == 1
    assert result.stderr == "Error: a password is 8 to 1024 characters\n"
    assert result.stdout == ""


def test_migrate_reports_the_schema_revision_and_is_repeatable(cli: Cli, home: Path) -> None:
    first = cli.json("migrate")
    again = cli.json("migrate")

    assert first["from_revision"] is None and first["revision"]
    assert again == {
        "database": str(home / "modelyard.db"),
        "from_revision": first["revision"],
        "revision": first["revision"],
    }
