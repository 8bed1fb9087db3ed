"""POST /v1/tasks/conversation-title and /v1/tasks/suggested-questions through the real gateway socket: the workspace's
default LLM or a named model of three wire families, messy answers in English and Chinese, errors in OpenAI's shape,
and the calls counted like any other (usage records, hosted quota)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from modelyard.runtime import Runtime
from tests.fakes import anthropic, gemini
from tests.fakes.openai import FakeOpenAI
from tests.fakes.registry import FAKES, serving
from tests.gateway.conftest import Running, hosted_deepseek_gateway
from tests.support import SECRET

TITLE = "/v1/tasks/conversation-title"
QUESTIONS = "/v1/tasks/suggested-questions"
ENGLISH = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "How do I sort a list of dicts by a key in Python?"},
    {"role": "assistant", "content": "Use sorted(items, key=lambda d: d['age'])."},
]
CHINESE = [
    {"role": "user", "content": "怎么用 Python 按某个键给字典列表排序？"},
    {"role": "assistant", "content": "可以用 sorted(items, key=lambda d: d['age'])。"},
]


async def post(running: Running, path: str, body: Any, **headers: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    headers = {"Authorization": f"Bearer {running.api_key}", **headers}
    async with aiohttp.ClientSession() as http, http.post(f"{running.url}{path}", json=body, headers=headers) as answer:
        return answer.status, orjson.loads(await answer.read()), dict(answer.headers)


@pytest.fixture
async def fake_anthropic(gateway: Running) -> AsyncIterator[anthropic.FakeAnthropic]:
    async with serving(FAKES["anthropic"]) as upstream:
        values = {"anthropic_api_key": SECRET, "anthropic_api_url": upstream.url}
        await gateway.services.credentials.create(
            workspace_id=gateway.workspace_id, provider="anthropic", values=values, validate=False
        )
        yield upstream


@pytest.fixture
async def fake_google(gateway: Running) -> AsyncIterator[gemini.FakeGoogle]:
    async with serving(FAKES["gemini"]) as upstream:
        values = {"google_api_key": SECRET, "api_base": upstream.url}
        await gateway.services.credentials.create(
            workspace_id=gateway.workspace_id, provider="gemini", values=values, validate=False
        )
        yield upstream


@pytest.mark.parametrize("model", [{}, {"model": None}, {"model": "default"}])
async def test_a_title_by_the_default_llm_from_a_chatty_answer(
    gateway: Running, fake_openai: FakeOpenAI, model: dict[str, Any]
) -> None:
    fake_openai.reply_chat(
        'Here is a concise title:\n\n"Sorting Dicts by Key in Python."', reasoning="Short, no quotes...", usage=(80, 9)
    )

    status, body, headers = await post(gateway, TITLE, {"messages": ENGLISH, **model})

    assert status == 200, body
    assert body == {
        "object": "conversation.title",
        "title": "Sorting Dicts by Key in Python",
        "model": "deepseek/deepseek-flash",  # the workspace's automatic default LLM: its only provider's first
        "usage": {"prompt_tokens": 80, "completion_tokens": 9, "total_tokens": 89},
    }
    assert (headers["x-modelyard-provider"], headers["x-modelyard-model"]) == ("deepseek", "deepseek-flash")
    assert fake_openai.last.path == "/v1/chat/completions"
    assert "response_format" not in fake_openai.last.json


async def test_questions_in_chinese_by_the_chosen_default_on_anthropic(
    gateway: Running, fake_anthropic: anthropic.FakeAnthropic
) -> None:
    await gateway.services.defaults.set(
        workspace_id=gateway.workspace_id, model_type="llm", provider="anthropic", model="claude-haiku-5-5"
    )
    questions = ["如何按多个键排序？", "怎么倒序排列？", "sorted 和 list.sort 有什么区别？"]
    fake_anthropic.reply_message([anthropic.text(orjson.dumps({"questions": questions}).decode())])

    status, body, _ = await post(gateway, QUESTIONS, {"messages": CHINESE})

    assert status == 200, body
    assert body["object"] == "conversation.suggested_questions"
    assert (body["questions"], body["model"]) == (questions, "anthropic/claude-haiku-5-5")
    sent = fake_anthropic.last.json
    assert sent["output_config"]["format"]["type"] == "json_schema"
    assert "write in Chinese" in str(sent["system"])


async def test_questions_by_a_named_gemini_model_asked_again_when_short(
    gateway: Running, fake_google: gemini.FakeGoogle
) -> None:
    fake_google.reply_json(gemini.answer(gemini.text_part('```json\n["Can I sort by two keys?"]\n```')))
    fake_google.reply_json(
        gemini.answer(gemini.text_part('{"questions": ["Is the sort stable?", "Sort in reverse?", "And None?"]}'))
    )

    status, body, _ = await post(gateway, QUESTIONS, {"messages": ENGLISH, "model": "gemini/gemini-3.5-flash"})

    assert status == 200, body
    assert body["questions"] == ["Can I sort by two keys?", "Is the sort stable?", "Sort in reverse?"]
    assert len(fake_google.requests) == 2
    assert "responseJsonSchema" in fake_google.last.json["generationConfig"]


async def test_every_call_of_a_task_is_recorded_as_usage(gateway: Running, fake_openai: FakeOpenAI) -> None:
    fake_openai.reply_chat("...", usage=(50, 2))
    fake_openai.reply_chat("Python sorting", usage=(55, 3))

    status, body, _ = await post(gateway, TITLE, {"messages": ENGLISH})

    assert (status, body["title"], body["usage"]["total_tokens"]) == (200, "Python sorting", 110)
    await gateway.services.usage.flush()
    records = await gateway.services.usage.records(workspace_id=gateway.workspace_id)
    assert sorted(r.prompt_tokens for r in records) == [50, 55]
    assert {(r.model, r.model_type, r.status) for r in records} == {("deepseek-flash", "llm", "success")}


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        ({}, 400, "invalid_request", "messages"),
        ({"messages": "hello"}, 400, "invalid_request", "messages"),
        ({"messages": [{"role": "user", "content": 5}]}, 400, "invalid_request", "messages[0].content"),
        ({"messages": ENGLISH, "model": ""}, 400, "invalid_request", "model"),
        ({"messages": ENGLISH, "model": 7}, 400, "invalid_request", "model"),
        ({"messages": ENGLISH, "model": "deepseek/nope"}, 404, "model_not_found", None),
    ],
)
async def test_bad_requests_are_answered_in_openais_shape_without_an_upstream_call(
    gateway: Running, fake_openai: FakeOpenAI, body: dict[str, Any], status: int, code: str, param: str | None
) -> None:
    answered, error, _ = await post(gateway, TITLE, body)

    assert (answered, error["error"]["code"], error["error"]["param"]) == (status, code, param)
    assert fake_openai.requests == []


async def test_a_model_that_twice_gives_no_title_is_a_502(gateway: Running, fake_openai: FakeOpenAI) -> None:
    fake_openai.reply_chat('{"title": ""}')
    fake_openai.reply_chat("<think>I am still deciding on the")

    status, body, _ = await post(gateway, TITLE, {"messages": ENGLISH})

    assert (status, body["error"]["code"], body["error"]["type"]) == (502, "upstream_protocol_error", "upstream_error")
    assert "[deepseek] deepseek-flash answered twice without a usable title" in body["error"]["message"]


async def test_a_call_without_an_api_key_is_refused(gateway: Running) -> None:
    async with aiohttp.ClientSession() as http, http.post(f"{gateway.url}{TITLE}", json={"messages": ENGLISH}) as r:
        assert r.status == 401


@pytest.fixture
async def hosted_gateway(tmp_path: Path, runtime: Runtime, fake_openai: FakeOpenAI) -> AsyncIterator[Running]:
    """A workspace with no key of its own and a hosted deepseek trial of one call."""
    async with hosted_deepseek_gateway(tmp_path, runtime, fake_openai, 1) as running:
        yield running


async def test_tasks_spend_the_hosted_quota_like_any_call(hosted_gateway: Running, fake_openai: FakeOpenAI) -> None:
    fake_openai.reply_chat('{"questions": ["One?", "Two?", "Three?"]}')

    first, body, headers = await post(hosted_gateway, QUESTIONS, {"messages": ENGLISH})
    second, refused, _ = await post(hosted_gateway, TITLE, {"messages": ENGLISH})

    assert (first, body["questions"], headers["x-modelyard-provider-type"]) == (
        200,
        ["One?", "Two?", "Three?"],
        "system",
    )
    assert (second, refused["error"]["code"]) == (429, "insufficient_quota")
    assert len(fake_openai.requests) == 1
