from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from modelyard.services.accounts import AccountView
from modelyard.vault import SECRET_MASK
from tests.support import SECRET
from tests.support.cli import Cli, started_services


def test_workspace_create_prints_its_id_and_name(cli: Cli) -> None:
    created = cli.json("workspace", "create", "  Acme  ")

    assert set(created) == {"id", "name"}
    assert created["id"].startswith("ws_")
    assert created["name"] == "Acme"


def test_workspace_create_makes_its_api_key_and_credential_in_the_same_call(cli: Cli) -> None:
    result = cli(
        "workspace", "create", "Acme", "--api-key-name", "ci", "--credential", "deepseek", "api_key=-",
        "--no-validate", "--json", input=SECRET,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert SECRET not in result.output + result.stderr
    created = json.loads(result.stdout)
    assert set(created) == {"id", "name", "api_key", "credential"}
    assert (created["api_key"]["name"], created["api_key"]["key"][:3]) == ("ci", "my-")
    assert (created["credential"]["provider"], created["credential"]["is_active"]) == ("deepseek", True)
    assert created["credential"]["values"]["api_key"] == SECRET_MASK
    keys = cli.json("apikey", "list", "--workspace", created["id"])
    assert [k["id"] for k in keys] == [created["api_key"]["id"]]
    credentials = cli.json("credential", "list", "--workspace", created["id"])
    assert [c["id"] for c in credentials] == [created["credential"]["id"]]


def test_workspace_create_takes_the_credential_from_the_environment(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPSEEK_KEY", SECRET)

    created = cli.json(
        "workspace", "create", "Acme", "--credential", "deepseek", "--from-env", "api_key=DEEPSEEK_KEY",
        "--credential-name", "main", "--no-validate",
    )  # fmt: skip

    assert set(created) == {"id", "name", "credential"}
    assert created["credential"]["name"] == "main"


def test_workspace_create_with_a_refused_credential_leaves_nothing_behind(cli: Cli) -> None:
    result = cli(
        "workspace", "create", "Acme", "--api-key-name", "ci", "--credential", "deepseek", f"api_kee={SECRET}",
        "--no-validate",
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: unknown credential field 'api_kee'")
    assert SECRET not in result.output + result.stderr
    assert cli.json("workspace", "list") == []


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["api_key=x"], "need --credential"),
        (["--credential-name", "main"], "need --credential"),
        (["--credential", "deepseek"], "--credential needs the credential's fields"),
    ],
    ids=["fields without --credential", "a name without --credential", "--credential without fields"],
)
def test_workspace_create_refuses_half_a_credential_before_creating_anything(
    cli: Cli, home: Path, arguments: list[str], says: str
) -> None:
    result = cli("workspace", "create", "Acme", *arguments)

    assert result.exit_code == 2
    assert says in result.stderr
    assert not (home / "modelyard.db").exists()


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


def test_workspace_delete_of_an_unknown_id_fails_before_asking(cli: Cli, workspace: str, home: Path) -> None:
    result = cli("workspace", "delete", "ws_nope")  # no answer to give: a question would abort instead

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"Error: workspace 'ws_nope' does not exist (looked in {home / 'modelyard.db'})\n"


def test_workspace_delete_asks_naming_the_workspace(cli: Cli, workspace: str) -> None:
    result = cli("workspace", "delete", workspace, input="y\n")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Delete the workspace 'Acme' ({workspace}) with all its")
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
