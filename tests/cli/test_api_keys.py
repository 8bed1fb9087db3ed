from __future__ import annotations

from pathlib import Path

from tests.support.cli import Cli


def test_apikey_create_shows_the_key_exactly_once(cli: Cli, workspace: str) -> None:
    result = cli("apikey", "create", "--workspace", workspace, "--name", "ci")
    key = result.stdout.strip().splitlines()[-1]

    assert result.exit_code == 0
    assert key.startswith("my-")
    assert result.output.count(key) == 1


def test_apikey_create_json_is_the_id_and_the_key(cli: Cli, workspace: str) -> None:
    created = cli.json("apikey", "create", "--workspace", workspace, "--name", "ci")

    assert set(created) == {"id", "key"}
    assert created["key"].startswith("my-")


def test_apikey_list_never_shows_a_key(cli: Cli, workspace: str) -> None:
    created = cli.json("apikey", "create", "--workspace", workspace, "--name", "ci")

    listed = cli.json("apikey", "list", "--workspace", workspace)
    text = cli("apikey", "list", "--workspace", workspace)

    assert [(k["id"], k["name"], k["revoked_at"]) for k in listed] == [(created["id"], "ci", None)]
    assert created["key"][:12] == listed[0]["prefix"]
    for output in (text.output, str(listed)):
        assert created["key"] not in output


def test_apikey_revoke_marks_the_key_revoked(cli: Cli, workspace: str) -> None:
    created = cli.json("apikey", "create", "--workspace", workspace, "--name", "ci")

    revoked = cli.json("apikey", "revoke", "--workspace", workspace, created["id"])

    assert revoked["id"] == created["id"] and revoked["revoked_at"] is not None
    assert cli.json("apikey", "list", "--workspace", workspace)[0]["revoked_at"] == revoked["revoked_at"]


def test_apikey_revoke_of_another_workspaces_key_is_not_found(cli: Cli, workspace: str, home: Path) -> None:
    other = cli.json("workspace", "create", "Other")["id"]
    created = cli.json("apikey", "create", "--workspace", other, "--name", "ci")

    result = cli("apikey", "revoke", "--workspace", workspace, created["id"])

    assert result.exit_code == 1
    assert result.stderr == f"Error: API key {created['id']!r} does not exist (looked in {home / 'modelyard.db'})\n"
    assert cli.json("apikey", "list", "--workspace", other)[0]["revoked_at"] is None
