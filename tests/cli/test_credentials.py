"""`credential set | list | delete`: the secret goes in, and never comes out of any command."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import Result

from modelyard.vault import SECRET_MASK
from tests.fakes.openai import FakeOpenAI
from tests.support import SECRET
from tests.support.cli import Cli, started_services


def assert_secret_hidden(*results: Result) -> None:
    for result in results:
        assert SECRET not in result.output
        assert SECRET not in result.stderr


def stored_deepseek_values(workspace: str) -> dict[str, str]:
    async def read() -> dict[str, str]:
        async with started_services() as services:
            state = (await services.snapshots.get(workspace)).providers["deepseek"]
            return dict(state.credentials or {})

    return asyncio.run(read())


async def test_credential_set_validates_with_one_upstream_call_and_never_prints_the_secret(
    cli: Cli, workspace: str, fake_openai: FakeOpenAI, deepseek: dict[str, str]
) -> None:
    endpoint = f"endpoint_url={deepseek['endpoint_url']}"

    saved = await cli.in_thread(
        "credential", "set", "--workspace", workspace, "deepseek", "api_key=-", endpoint, "--json", input=SECRET
    )
    listed_text = await cli.in_thread("credential", "list", "--workspace", workspace)
    listed_json = await cli.in_thread("credential", "list", "--workspace", workspace, "--json")

    assert saved.exit_code == 0, saved.output
    assert_secret_hidden(saved, listed_text, listed_json)
    assert [r.headers["authorization"] for r in fake_openai.requests] == [f"Bearer {SECRET}"]
    assert SECRET_MASK in listed_text.stdout
    assert '"status": "verified"' in saved.stdout
    assert (await asyncio.to_thread(stored_deepseek_values, workspace))["api_key"] == SECRET


async def test_credential_set_with_a_rejected_key_fails_in_one_line_and_stores_nothing(
    cli: Cli, workspace: str, fake_openai: FakeOpenAI, deepseek: dict[str, str]
) -> None:
    fake_openai.fail(401, "Incorrect API key provided", code="invalid_api_key")

    result = await cli.in_thread(
        "credential", "set", "--workspace", workspace, "deepseek", f"api_key={SECRET}",
        f"endpoint_url={deepseek['endpoint_url']}",
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert_secret_hidden(result)
    assert await cli.json_in_thread("credential", "list", "--workspace", workspace) == []


def test_credential_set_without_validation_shows_secrets_masked(cli: Cli, workspace: str) -> None:
    saved = cli("credential", "set", "--workspace", workspace, "deepseek", f"api_key={SECRET}", "--no-validate")
    saved_json = cli.json(
        "credential", "set", "--workspace", workspace, "deepseek", f"api_key={SECRET}", "--no-validate",
        "--name", "second",
    )  # fmt: skip
    listed = cli.json("credential", "list", "--workspace", workspace, "--provider", "deepseek")

    assert_secret_hidden(saved)
    assert saved_json["values"]["api_key"] == SECRET_MASK
    assert saved_json["status"] == "unverified"
    assert [(c["name"], c["values"]["api_key"], c["is_active"]) for c in listed] == [
        ("DeepSeek 1", SECRET_MASK, True),
        ("second", SECRET_MASK, False),
    ]
    assert SECRET not in str(listed)


def test_credential_set_takes_a_field_from_the_environment(
    cli: Cli, workspace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEEPSEEK_TEST_KEY", SECRET)

    result = cli(
        "credential", "set", "--workspace", workspace, "deepseek", "--from-env", "api_key=DEEPSEEK_TEST_KEY",
        "--no-validate",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert_secret_hidden(result)
    assert stored_deepseek_values(workspace)["api_key"] == SECRET


def test_credential_set_from_stdin_keeps_every_line_but_the_last_newline(cli: Cli, workspace: str) -> None:
    value = f"{SECRET}\nsecond line"

    result = cli(
        "credential", "set", "--workspace", workspace, "deepseek", "api_key=-", "--no-validate", input=value + "\n"
    )

    assert result.exit_code == 0, result.output
    assert stored_deepseek_values(workspace)["api_key"] == value


def test_credential_set_with_an_existing_name_updates_that_credential(cli: Cli, workspace: str) -> None:
    first = cli.json("credential", "set", "--workspace", workspace, "deepseek", "api_key=old-key", "--no-validate",
                     "--name", "main")  # fmt: skip

    again = cli.json(
        "credential", "set", "--workspace", workspace, "deepseek", f"api_key={SECRET}", "--no-validate",
        "--name", "main",
    )  # fmt: skip

    assert again["id"] == first["id"]
    assert [c["id"] for c in cli.json("credential", "list", "--workspace", workspace)] == [first["id"]]
    assert stored_deepseek_values(workspace)["api_key"] == SECRET


def test_credential_set_without_a_name_updates_the_active_credential_in_place(cli: Cli, workspace: str) -> None:
    first = cli.json(
        "credential", "set", "--workspace", workspace, "deepseek", "api_key=old-key",
        "endpoint_url=https://first.example/v1", "--no-validate",
    )  # fmt: skip

    again = cli("credential", "set", "--workspace", workspace, "deepseek", f"api_key={SECRET}", "--no-validate")

    assert again.stdout == f"Updated deepseek credential {first['name']!r} (unverified): {first['id']}\n"
    assert [(c["id"], c["is_active"]) for c in cli.json("credential", "list", "--workspace", workspace)] == [
        (first["id"], True)
    ]
    stored = stored_deepseek_values(workspace)
    assert stored["api_key"] == SECRET
    assert stored["endpoint_url"] == "https://first.example/v1"  # a field not given again keeps its value


def test_credential_set_keeps_a_secret_that_is_not_sent_again(cli: Cli, workspace: str) -> None:
    cli.json("credential", "set", "--workspace", workspace, "deepseek", f"api_key={SECRET}", "--no-validate")

    cli.json(
        "credential", "set", "--workspace", workspace, "deepseek", "endpoint_url=https://second.example/v1",
        "--no-validate",
    )  # fmt: skip

    assert stored_deepseek_values(workspace) == {"api_key": SECRET, "endpoint_url": "https://second.example/v1"}


def test_credential_set_with_a_new_name_adds_one_beside_the_active_credential(cli: Cli, workspace: str) -> None:
    active = cli.json("credential", "set", "--workspace", workspace, "deepseek", "api_key=old-key", "--no-validate")

    added = cli.json(
        "credential", "set", "--workspace", workspace, "deepseek", f"api_key={SECRET}", "--no-validate",
        "--name", "backup",
    )  # fmt: skip

    assert added["id"] != active["id"] and not added["is_active"]
    listed = cli.json("credential", "list", "--workspace", workspace)
    assert [(c["name"], c["is_active"]) for c in listed] == [(active["name"], True), ("backup", False)]
    assert stored_deepseek_values(workspace)["api_key"] == "old-key"  # calls still use the active credential


def test_credential_activate_makes_a_named_credential_the_one_calls_use(cli: Cli, workspace: str) -> None:
    first = cli.json("credential", "set", "--workspace", workspace, "deepseek", "api_key=old-key", "--no-validate")
    backup = cli.json(
        "credential", "set", "--workspace", workspace, "deepseek", f"api_key={SECRET}", "--no-validate",
        "--name", "backup",
    )  # fmt: skip

    activated = cli("credential", "activate", "--workspace", workspace, backup["id"], "--json")
    listed = cli.json("credential", "list", "--workspace", workspace)

    assert activated.exit_code == 0, activated.output
    assert_secret_hidden(activated)
    assert json.loads(activated.stdout)["is_active"] is True
    assert [(c["id"], c["is_active"]) for c in listed] == [(first["id"], False), (backup["id"], True)]
    assert stored_deepseek_values(workspace)["api_key"] == SECRET


def test_credential_activate_of_another_workspaces_credential_is_not_found(cli: Cli, workspace: str) -> None:
    other = cli.json("workspace", "create", "Other")["id"]
    theirs = cli.json("credential", "set", "--workspace", other, "deepseek", "api_key=k", "--no-validate")

    result = cli("credential", "activate", "--workspace", workspace, theirs["id"])

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "does not exist" in result.stderr


def test_credential_set_never_echoes_a_malformed_argument(cli: Cli, workspace: str) -> None:
    result = cli("credential", "set", "--workspace", workspace, "deepseek", SECRET, "--no-validate")

    assert result.exit_code == 2
    assert "argument 1 is not FIELD=VALUE" in result.stderr
    assert_secret_hidden(result)


def test_credential_set_reads_only_one_field_from_stdin(cli: Cli, workspace: str) -> None:
    result = cli("credential", "set", "--workspace", workspace, "deepseek", "api_key=-", "endpoint_url=-")

    assert result.exit_code == 2
    assert "only one field can be read from stdin" in result.stderr


def test_credential_set_from_an_unset_environment_variable_is_a_usage_error(cli: Cli, workspace: str) -> None:
    result = cli("credential", "set", "--workspace", workspace, "deepseek", "--from-env", "api_key=NOT_SET_ANYWHERE")

    assert result.exit_code == 2
    assert "NOT_SET_ANYWHERE is not set" in result.stderr


def test_credential_set_with_an_unknown_field_names_it_suggests_the_nearest_and_lists_the_fields(
    cli: Cli, workspace: str
) -> None:
    result = cli("credential", "set", "--workspace", workspace, "deepseek", f"api_kee={SECRET}", "--no-validate")
    unlike_any = cli("credential", "set", "--workspace", workspace, "deepseek", "region=eu", "--no-validate")

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: unknown credential field 'api_kee'; did you mean 'api_key'? (the fields are: api_key, endpoint_url)\n"
    )
    assert_secret_hidden(result)
    assert unlike_any.stderr == "Error: unknown credential field 'region' (the fields are: api_key, endpoint_url)\n"


def test_credential_delete_removes_it(cli: Cli, workspace: str) -> None:
    saved = cli.json("credential", "set", "--workspace", workspace, "deepseek", f"api_key={SECRET}", "--no-validate")

    deleted = cli.json("credential", "delete", "--workspace", workspace, saved["id"])

    assert deleted == {"id": saved["id"], "deleted": True}
    assert cli.json("credential", "list", "--workspace", workspace) == []
