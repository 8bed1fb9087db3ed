from __future__ import annotations

from pathlib import Path

from tests.support.cli import Cli


def test_rotate_keys_gives_the_workspace_a_new_key_and_secrets_still_open(cli: Cli, workspace: str) -> None:
    secret = "api_key=sk-rotate-000111222333"
    cli.json("credential", "set", "--workspace", workspace, "deepseek", "--no-validate", secret)
    rotated = cli.json("workspace", "rotate-keys", "--workspace", workspace)
    again = cli.json("workspace", "rotate-keys", "--workspace", workspace)
    assert rotated["id"] == workspace
    assert rotated["key_id"] != again["key_id"]
    listed = cli.json("credential", "list", "--workspace", workspace)
    assert [c["provider"] for c in listed] == ["deepseek"]


def test_db_copy_moves_everything_into_an_empty_database(cli: Cli, workspace: str, home: Path) -> None:
    target = home / "copy.db"
    copied = cli.json("db", "copy", f"sqlite+aiosqlite:///{home / 'modelyard.db'}", f"sqlite+aiosqlite:///{target}")
    assert copied["workspaces"] == 1
    refused = cli("db", "copy", f"sqlite+aiosqlite:///{home / 'modelyard.db'}", f"sqlite+aiosqlite:///{target}")
    assert refused.exit_code == 1
    assert "already has rows" in refused.stderr
