"""`alias set | list | show | delete`: make, replace, read and delete a workspace's model aliases from a shell."""

from __future__ import annotations

import json

from tests.support import SECRET
from tests.support.cli import Cli


def test_an_alias_is_made_replaced_listed_shown_and_deleted(cli: Cli, workspace: str) -> None:
    cli.json("credential", "set", "--workspace", workspace, "deepseek", f"api_key={SECRET}", "--no-validate")

    made = cli.json(
        "alias", "set", "--workspace", workspace, "smart", "deepseek/deepseek-flash=3", "openai/gpt-5.4=0",
        "--max-attempts", "4",
    )  # fmt: skip
    assert (made["name"], made["model_type"], made["max_attempts"], made["max_time_s"]) == ("smart", "llm", 4, 30)
    assert [(t["provider"], t["weight"], t["is_available"]) for t in made["targets"]] == [
        ("deepseek", 3, True),
        ("openai", 0, False),
    ]

    replaced = cli.json("alias", "set", "--workspace", workspace, "smart", "deepseek/deepseek-flash", "--max-time", "9")
    assert [t["weight"] for t in replaced["targets"]] == [1]
    assert (replaced["max_attempts"], replaced["max_time_s"]) == (4, 9)  # what was not given stays

    assert [a["name"] for a in cli.json("alias", "list", "--workspace", workspace)] == ["smart"]
    assert cli.json("alias", "show", "--workspace", workspace, "smart")["targets"][0]["model"] == "deepseek-flash"
    text = cli("alias", "list", "--workspace", workspace).output
    assert "smart" in text and "deepseek/deepseek-flash=1" in text

    assert cli.json("alias", "delete", "--workspace", workspace, "smart") == {"name": "smart", "deleted": True}
    assert cli.json("alias", "list", "--workspace", workspace) == []
    assert "No aliases." in cli("alias", "list", "--workspace", workspace).output


def test_a_bad_alias_fails_on_stderr_naming_the_problem(cli: Cli, workspace: str) -> None:
    shadowing = cli("alias", "set", "--workspace", workspace, "gpt-5.4", "openai/gpt-5.4", "--json")
    assert shadowing.exit_code != 0 and shadowing.stdout == ""
    error = json.loads(shadowing.stderr)["error"]
    assert (error["code"], "shadow" in error["message"]) == ("invalid_request", True)

    unknown = cli("alias", "set", "--workspace", workspace, "smart", "nowhere/model")
    assert unknown.exit_code != 0 and "unknown provider 'nowhere'" in unknown.stderr

    missing = cli("alias", "show", "--workspace", workspace, "nothing", "--json")
    assert json.loads(missing.stderr)["error"]["code"] == "not_found"


def test_an_alias_keeps_its_type(cli: Cli, workspace: str) -> None:
    cli.json("alias", "set", "--workspace", workspace, "smart", "deepseek/deepseek-flash")
    changed = cli("alias", "set", "--workspace", workspace, "smart", "deepseek/deepseek-flash", "--type", "rerank")
    assert changed.exit_code == 2 and "serves llm calls" in changed.stderr
