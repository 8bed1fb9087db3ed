"""Runtime.generate_title and Runtime.suggest_questions over three wire families, on realistic messy answers.

Each task is one ordinary chat call (two when the first answer is unusable): these tests read what reached the fake
upstream as well as what came back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest

from modelyard import SyncRuntime
from modelyard.errors import InvalidRequestError, UpstreamProtocolError
from modelyard.tasks import QUESTION_COUNT
from tests.fakes import anthropic, gemini
from tests.fakes.registry import FAKES, serving
from tests.support import SECRET

ENGLISH = [
    {"role": "user", "content": "How do I sort a list of dicts by a key in Python?"},
    {"role": "assistant", "content": "Use sorted(items, key=lambda d: d['age'])."},
]
CHINESE = [
    {"role": "user", "content": "怎么用 Python 按某个键给字典列表排序？"},
    {"role": "assistant", "content": "可以用 sorted(items, key=lambda d: d['age'])。"},
]
QUESTIONS_ZH = ["如何按多个键排序？", "怎么倒序排列？", "sorted 和 list.sort 有什么区别？"]


@pytest.fixture
async def fake_anthropic() -> AsyncIterator[anthropic.FakeAnthropic]:
    async with serving(FAKES["anthropic"]) as upstream:
        yield upstream


@pytest.fixture
async def fake_google() -> AsyncIterator[gemini.FakeGoogle]:
    async with serving(FAKES["gemini"]) as upstream:
        yield upstream


def claude(fake: anthropic.FakeAnthropic) -> dict[str, object]:
    credentials = {"anthropic_api_key": SECRET, "anthropic_api_url": fake.url}
    return {"provider": "anthropic", "model": "claude-haiku-5-5", "credentials": credentials}


def gemini_flash(fake: gemini.FakeGoogle) -> dict[str, object]:
    credentials = {"google_api_key": SECRET, "api_base": fake.url}
    return {"provider": "gemini", "model": "gemini-3.5-flash", "credentials": credentials}


async def test_title_from_a_reasoning_model_without_structured_output(runtime, fake_openai, deepseek) -> None:
    fake_openai.reply_chat(
        'Sure! Here is a title for this conversation:\n\n**"Sorting dicts by key in Python."**',
        reasoning="The user wants to sort dictionaries; a short title would be...",
        usage=(120, 40),
    )

    named = await runtime.generate_title(
        provider="deepseek", model="deepseek-flash", credentials=deepseek, messages=ENGLISH
    )

    assert named.title == "Sorting dicts by key in Python"
    assert (named.usage.prompt_tokens, named.usage.completion_tokens) == (120, 40)
    sent = fake_openai.last.json
    assert "response_format" not in sent  # deepseek-flash declares no structured-output
    assert sent["max_tokens"] == 1024
    system, user = sent["messages"]
    assert system["role"] == "system" and '{"title": "..."}' in system["content"]
    assert "User: How do I sort a list of dicts by a key in Python?" in user["content"]


async def test_questions_in_chinese_from_anthropic_with_structured_output(runtime, fake_anthropic) -> None:
    answer = orjson.dumps({"questions": QUESTIONS_ZH}).decode()
    fake_anthropic.reply_message([anthropic.thinking("用户可能想继续问排序。"), anthropic.text(answer)])

    suggested = await runtime.suggest_questions(**claude(fake_anthropic), messages=CHINESE)

    assert suggested.questions == tuple(QUESTIONS_ZH)
    sent = fake_anthropic.last.json
    assert sent["output_config"]["format"]["type"] == "json_schema"
    assert sent["output_config"]["format"]["schema"]["required"] == ["questions"]
    assert "The user writes in Chinese: write in Chinese" in str(sent["system"])
    assert len(fake_anthropic.requests) == 1


async def test_title_in_chinese_from_gemini_wrapped_in_a_code_fence(runtime, fake_google) -> None:
    fake_google.reply_json(
        gemini.answer(gemini.text_part('```json\n{"title": "「字典列表排序。」"}\n```'), tokens=gemini.usage(90, 12))
    )

    named = await runtime.generate_title(**gemini_flash(fake_google), messages=CHINESE)

    assert named.title == "字典列表排序"
    config = fake_google.last.json["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"]["required"] == ["title"]


async def test_too_few_questions_ask_once_more_and_keep_the_usable_ones_of_both(runtime, fake_google) -> None:
    first = "Here are some follow-up questions:\n1. Can I sort by two keys?\n2. Is the sort stable?"
    second = '{"questions": ["Is the sort stable?", "How do I sort in reverse?", "What about None values?"]}'
    fake_google.reply_json(gemini.answer(gemini.text_part(first), tokens=gemini.usage(100, 20)))
    fake_google.reply_json(gemini.answer(gemini.text_part(second), tokens=gemini.usage(110, 30)))

    suggested = await runtime.suggest_questions(**gemini_flash(fake_google), messages=ENGLISH)

    assert suggested.questions == ("Can I sort by two keys?", "Is the sort stable?", "How do I sort in reverse?")
    assert (suggested.usage.prompt_tokens, suggested.usage.completion_tokens) == (210, 50)
    again = str(fake_google.requests[-1].json["contents"])
    assert len(fake_google.requests) == 2 and "did not hold 3 usable questions" in again


async def test_more_questions_than_asked_are_cut_to_three(runtime, fake_openai, deepseek) -> None:
    listed = "\n".join(f"{n}) Question number {n}?" for n in range(1, 6))
    fake_openai.reply_chat(listed)

    suggested = await runtime.suggest_questions(
        provider="deepseek", model="deepseek-flash", credentials=deepseek, messages=ENGLISH
    )

    assert suggested.questions == ("Question number 1?", "Question number 2?", "Question number 3?")
    assert len(suggested.questions) == QUESTION_COUNT and len(fake_openai.requests) == 1


async def test_fewer_questions_twice_are_returned_as_they_are(runtime, fake_openai, deepseek) -> None:
    fake_openai.reply_chat('["Can I sort by two keys?"]')
    fake_openai.reply_chat("<think>one more?</think>- Can I sort by two keys?\n- Is it stable?")

    suggested = await runtime.suggest_questions(
        provider="deepseek", model="deepseek-flash", credentials=deepseek, messages=ENGLISH
    )

    assert suggested.questions == ("Can I sort by two keys?", "Is it stable?")


async def test_two_answers_without_a_title_are_an_upstream_protocol_error(runtime, fake_anthropic) -> None:
    fake_anthropic.reply_message([anthropic.text('{"title": "..."}')])
    fake_anthropic.reply_message([anthropic.text("")], stop_reason="max_tokens")

    with pytest.raises(UpstreamProtocolError) as failed:
        await runtime.generate_title(**claude(fake_anthropic), messages=ENGLISH)

    assert str(failed.value).startswith("[anthropic] claude-haiku-5-5 answered twice without a usable title")
    assert len(fake_anthropic.requests) == 2


async def test_a_conversation_without_text_is_refused_before_any_call(runtime, fake_openai, deepseek) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        await runtime.generate_title(
            provider="deepseek", model="deepseek-flash", credentials=deepseek, messages=[{"role": "user"}]
        )

    assert refused.value.field == "messages"
    assert fake_openai.requests == []


async def test_the_blocking_twin_runs_both_tasks(fake_openai, deepseek) -> None:
    fake_openai.reply_chat('{"title": "Sorting dicts"}')
    fake_openai.reply_chat('{"questions": ["One?", "Two?", "Three?"]}')
    call = {"provider": "deepseek", "model": "deepseek-flash", "credentials": deepseek, "messages": ENGLISH}

    def both() -> tuple[str, tuple[str, ...]]:
        with SyncRuntime() as runtime:
            return runtime.generate_title(**call).title, runtime.suggest_questions(**call).questions

    assert await asyncio.to_thread(both) == ("Sorting dicts", ("One?", "Two?", "Three?"))
