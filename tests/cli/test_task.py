"""`modelyard task title | questions`: a conversation from stdin or a file, the workspace's default LLM or --model,
one line (or one per question) for a shell, one JSON document with --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.openai import FakeOpenAI
from tests.support import SECRET
from tests.support.cli import Cli

CONVERSATION = [
    {"role": "user", "content": "How do I sort a list of dicts by a key in Python?"},
    {"role": "assistant", "content": "Use sorted(items, key=lambda d: d['age'])."},
]


@pytest.fixture
async def with_deepseek(cli: Cli, workspace: str, deepseek: dict[str, str]) -> str:
    endpoint = f"endpoint_url={deepseek['endpoint_url']}"
    saved = await cli.in_thread(
        "credential", "set", "--workspace", workspace, "deepseek", "api_key=-", endpoint, "--no-validate", input=SECRET
    )
    assert saved.exit_code == 0, saved.output
    return workspace


async def test_task_title_reads_stdin_and_prints_the_title(
    cli: Cli, with_deepseek: str, fake_openai: FakeOpenAI
) -> None:
    fake_openai.reply_chat('Title: "Sorting dicts in Python."')

    shown = await cli.in_thread("task", "title", "--workspace", with_deepseek, input=json.dumps(CONVERSATION))

    assert shown.exit_code == 0, shown.output
    assert shown.stdout == "Sorting dicts in Python\n"
    assert fake_openai.last.json["model"] == "deepseek-flash"  # the automatic default LLM


async def test_task_questions_with_json_and_a_named_model(
    cli: Cli, with_deepseek: str, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    listed = "```\n1. Can I sort by two keys?\n2. Is it stable?\n3. How do I reverse it?\n```"
    fake_openai.reply_chat(listed, usage=(60, 20))
    fake_openai.reply_chat(listed)
    conversation = tmp_path / "conversation.json"
    conversation.write_text(json.dumps({"messages": CONVERSATION}))

    document = await cli.json_in_thread(
        "task", "questions", "--workspace", with_deepseek, "--model", "deepseek/deepseek-v4-pro", str(conversation)
    )
    text = await cli.in_thread(
        "task", "questions", "--workspace", with_deepseek, "--model", "deepseek-v4-pro", str(conversation)
    )

    assert document["questions"] == ["Can I sort by two keys?", "Is it stable?", "How do I reverse it?"]
    assert document["model"] == "deepseek/deepseek-v4-pro"
    assert document["usage"]["total_tokens"] == 80
    assert text.exit_code == 0
    assert text.stdout == "Can I sort by two keys?\nIs it stable?\nHow do I reverse it?\n"


@pytest.mark.parametrize(
    ("conversation", "message"),
    [
        ("not json", "the conversation is not valid JSON"),
        ("[]", "messages must be a non-empty array"),
        ('[{"role": "system", "content": "be brief"}]', "no user or assistant text"),
    ],
)
async def test_a_bad_conversation_fails_in_one_json_line_on_stderr(
    cli: Cli, with_deepseek: str, fake_openai: FakeOpenAI, conversation: str, message: str
) -> None:
    failed = await cli.in_thread("task", "title", "--workspace", with_deepseek, "--json", input=conversation)

    assert failed.exit_code != 0 and failed.stdout == ""
    error = json.loads(failed.stderr)["error"]
    assert message in error["message"] and error["code"] == "invalid_request"
    assert fake_openai.requests == []
