"""The playground's title and suggested questions: console routes over the workspace's default LLM (or a named one),
for any member; bad bodies are plain 400s naming the field, upstream failures the contract's status."""

from __future__ import annotations

import pytest

from tests.fakes.openai import FakeOpenAI
from tests.support.console import API, Team

CONVERSATION = [
    {"role": "user", "content": "怎么用 Python 按某个键给字典列表排序？"},
    {"role": "assistant", "content": "可以用 sorted(items, key=lambda d: d['age'])。"},
]


@pytest.fixture
async def playground(team: Team, deepseek) -> str:
    ws = f"{API}/workspaces/{team.workspace_id}"
    created = await team.owner.post(
        f"{ws}/providers/deepseek/credentials", json={"values": deepseek, "validate": False}
    )
    assert created.status_code == 201
    return f"{ws}/playground"


async def test_a_member_gets_a_title_in_the_conversations_language(
    team: Team, playground: str, fake_openai: FakeOpenAI
) -> None:
    fake_openai.reply_chat("标题：“字典列表排序。”", usage=(70, 8))

    response = await team.member.post(f"{playground}/title", json={"messages": CONVERSATION})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["title"], body["provider"], body["model"]) == ("字典列表排序", "deepseek", "deepseek-flash")
    assert (body["usage"]["prompt_tokens"], body["usage"]["completion_tokens"]) == (70, 8)
    system = fake_openai.last.json["messages"][0]["content"]
    assert "The user writes in Chinese: write in Chinese" in system


async def test_a_member_gets_three_suggested_questions(team: Team, playground: str, fake_openai: FakeOpenAI) -> None:
    questions = ["如何按多个键排序？", "怎么倒序排列？", "sorted 和 sort 有什么区别？", "还有别的吗？"]
    fake_openai.reply_chat("好的，以下是几个问题：\n" + "\n".join(f"{n}. {q}" for n, q in enumerate(questions, 1)))

    response = await team.member.post(
        f"{playground}/suggested-questions", json={"messages": CONVERSATION, "model": "deepseek/deepseek-v4-flash"}
    )

    assert response.status_code == 200, response.text
    assert response.json()["questions"] == questions[:3]
    assert fake_openai.last.json["model"] == "deepseek-v4-flash"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages.0.role"),
        ({"messages": CONVERSATION, "model": ""}, "model"),
        ({"messages": CONVERSATION, "extra": 1}, "extra"),
    ],
)
async def test_a_bad_body_is_a_400_naming_the_field(
    team: Team, playground: str, fake_openai: FakeOpenAI, body: dict, field: str
) -> None:
    response = await team.member.post(f"{playground}/title", json=body)

    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert fake_openai.requests == []


async def test_an_upstream_failure_keeps_its_status_and_provider(
    team: Team, playground: str, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail(429, "slow down", code="rate_limit_exceeded", headers={"Retry-After": "3"})

    response = await team.member.post(f"{playground}/suggested-questions", json={"messages": CONVERSATION})

    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert "[deepseek]" in response.json()["error"]["message"]


async def test_a_workspace_without_a_chat_model_says_so(team: Team, fake_openai: FakeOpenAI) -> None:
    response = await team.member.post(
        f"{API}/workspaces/{team.workspace_id}/playground/title", json={"messages": CONVERSATION}
    )

    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "model_not_found" and "no usable llm model to use as its default" in error["message"]
