"""What every command shares: `--json`, one-line errors with exit code 1, click's exit code 2 for bad arguments."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from modelyard.cli import modelyard
from modelyard.error_contract import contract_of
from modelyard.errors import CredentialValidationError, ModelyardError
from modelyard.services.workspaces import WorkspaceService
from modelyard.vault import MasterKeyError
from tests.support.cli import Cli

# DESIGN §7: the commands users and scripts rely on
DESIGNED = {
    "serve", "migrate", "workspace create", "workspace list", "account create", "apikey create", "apikey list",
    "apikey revoke", "provider list", "credential set", "credential list", "credential delete", "model add",
    "model list", "model enable", "model disable", "default set", "default get", "default clear", "quota show",
    "usage",
}  # fmt: skip


def leaf_commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    context = click.Context(group)
    for name in group.list_commands(context):  # the top-level group loads its commands on demand
        command = group.get_command(context, name)
        assert command is not None, name
        if not isinstance(command, click.Group) or command.invoke_without_command:  # `usage` runs, and has `prune`
            yield f"{prefix}{name}", command
        if isinstance(command, click.Group):
            yield from leaf_commands(command, f"{prefix}{name} ")


def test_every_designed_command_exists_and_takes_json() -> None:
    commands = dict(leaf_commands(modelyard))

    assert set(commands) >= DESIGNED
    for name, command in commands.items():
        assert any(p.opts == ["--json"] for p in command.params), f"`{name}` has no --json"


def test_a_modelyard_error_is_one_line_on_stderr_with_exit_code_1(cli: Cli, workspace: str, home: Path) -> None:
    result = cli("apikey", "list", "--workspace", "ws_missing")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"Error: workspace 'ws_missing' does not exist (looked in {home / 'modelyard.db'})\n"


def test_with_json_an_error_is_one_json_document_on_stderr_with_exit_code_1(
    cli: Cli, workspace: str, home: Path
) -> None:
    result = cli("apikey", "list", "--workspace", "ws_missing", "--json")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert json.loads(result.stderr) == {
        "error": {
            "message": f"workspace 'ws_missing' does not exist (looked in {home / 'modelyard.db'})",
            "type": "not_found",
            "code": "not_found",
        }
    }


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["model", "list", "--workspace", "ws_1", "--type", "chat", "--json"], "bad_parameter"),
        (["model", "list", "--json", "--workspace", "ws_1", "--type", "chat"], "bad_parameter"),
        (["apikey", "create", "--json"], "missing_parameter"),
        (["workspace", "list", "--json", "--colour"], "no_such_option"),
        (["workspace", "frobnicate", "--json"], "no_such_command"),
        (["--json"], "no_such_option"),
    ],
    ids=["bad-choice", "json-first", "missing-option", "unknown-option", "unknown-command", "json-on-the-group"],
)
def test_with_json_a_bad_argument_is_one_json_document_with_exit_code_2(cli: Cli, args: list[str], code: str) -> None:
    result = cli(*args)

    assert result.exit_code == 2
    assert result.stdout == ""
    error = json.loads(result.stderr)["error"]
    assert (error["type"], error["code"]) == ("usage", code)
    assert error["message"] and "\n" not in error["message"]


def test_with_json_a_declined_confirmation_is_a_json_document_too(cli: Cli, workspace: str) -> None:
    result = cli("workspace", "delete", workspace, "--json", input="n\n")

    assert result.exit_code == 1
    assert result.stdout.startswith("Delete the workspace")  # click asks on stdout; the answer is on stderr
    assert json.loads(result.stderr) == {"error": {"message": "aborted", "type": "aborted", "code": "aborted"}}


@pytest.mark.parametrize("error", [CredentialValidationError("refused"), MasterKeyError("wrong key")], ids=repr)
def test_with_json_an_error_has_the_kind_and_code_every_face_gives_it(
    cli: Cli, workspace: str, monkeypatch: pytest.MonkeyPatch, error: ModelyardError
) -> None:
    async def fail(self: WorkspaceService, **_: object) -> None:
        raise error

    monkeypatch.setattr(WorkspaceService, "list", fail)
    row = contract_of(type(error))

    result = cli("workspace", "list", "--json")

    assert result.exit_code == 1
    assert json.loads(result.stderr) == {"error": {"message": str(error), "type": row.kind.value, "code": row.code}}


def test_a_multi_line_error_message_is_joined_into_one_line(
    cli: Cli, workspace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def fail(self: WorkspaceService, **_: object) -> None:
        raise ModelyardError("the first line\n  and the second\n")

    monkeypatch.setattr(WorkspaceService, "list", fail)

    result = cli("workspace", "list")

    assert result.exit_code == 1
    assert result.stderr == "Error: the first line and the second\n"


def test_a_different_master_key_is_refused_in_one_line(
    cli: Cli, workspace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_SECRET_KEY", "another-master-key-0123456789abcdef012345")

    result = cli("workspace", "list")

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: the master key") and result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        ["model", "list", "--workspace", "ws_1", "--type", "chat"],
        ["apikey", "create"],
        ["usage", "--workspace", "ws_1", "--since", "yesterday"],
        ["serve", "--port", "70000"],
        ["workspace", "frobnicate"],
    ],
    ids=["bad-choice", "missing-option", "bad-date", "bad-port", "unknown-command"],
)
def test_a_bad_argument_exits_2_without_running_anything(cli: Cli, args: list[str]) -> None:
    result = cli(*args)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Error:" in result.stderr


def test_help_names_every_command_group(cli: Cli) -> None:
    result = cli("--help")

    assert result.exit_code == 0
    for group in ("serve", "migrate", "workspace", "account", "apikey", "provider", "credential", "model", "default"):
        assert group in result.stdout
