"""The Zhipu fake and our adapter held to the vendor's own code: the `zhipuai` SDK 2.1.5 (sync, so it runs in a thread).

The SDK, with strict response validation, must parse everything the fake serves; the fake verifies the JWT the SDK
signs, and ours. For the same logical call our request body must equal the SDK's, field for field.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
import zhipuai
from zhipuai.types.chat.chat_completion_chunk import ChatCompletionChunk

from modelyard.errors import ProviderQuotaExhaustedError, UpstreamAuthError
from modelyard.protocols.sse import SSEDecoder
from modelyard.types import ResponseFormat
from tests.capabilities import prove
from tests.fakes.loopback import served
from tests.fakes.zhipu import PREFIX, FakeZhipu, jwt_payload

KEY = "6f1c2b3a4d5e.Zs3cr3tZs3cr3tZs"  # `id.secret`, as the console issues them
HI = [{"role": "user", "content": "Hi"}]
BEARER = {"Authorization": f"Bearer {KEY}"}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
async def fake_zhipu() -> AsyncIterator[FakeZhipu]:
    async with served(FakeZhipu(api_keys={KEY})) as fake:
        yield fake


@pytest.fixture
def make_sdk(fake_zhipu) -> Iterator[Callable[..., zhipuai.ZhipuAI]]:
    """SDK clients aimed at the fake, closed after the test; strict validation is off for streams only."""
    made: list[zhipuai.ZhipuAI] = []

    def make(*, jwt: bool, api_key: str = KEY, strict: bool = True) -> zhipuai.ZhipuAI:
        client = zhipuai.ZhipuAI(
            api_key=api_key,
            base_url=f"{fake_zhipu.url}{PREFIX}",
            max_retries=0,
            disable_token_cache=not jwt,
            _strict_response_validation=strict,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def credentials(fake: FakeZhipu, auth_method: str = "jwt") -> dict[str, str]:
    return {"api_key": KEY, "auth_method": auth_method, "endpoint_url": f"{fake.url}{PREFIX}"}


def sent(fake: FakeZhipu, index: int) -> dict[str, Any]:
    """A recorded body without the nulls the SDK sends for parameters it was not given."""
    return {k: v for k, v in fake.requests[index].json.items() if v is not None}


def assert_same_request(fake: FakeZhipu) -> None:
    ours, theirs = fake.requests[-1], fake.requests[-2]
    assert ours.path == theirs.path
    assert sent(fake, -1) == sent(fake, -2)
    assert ours.headers["content-type"].split(";")[0] == theirs.headers["content-type"].split(";")[0]
    # Both signed a JWT the fake verified: same key id, both unexpired.
    assert [t["api_key"] for t in fake.tokens[-2:]] == [KEY.split(".")[0]] * 2


# --- the SDK reads what the fake serves, and the fake checks the SDK's JWT ---------------------------------------


async def test_sdk_parses_a_plain_answer_and_a_tool_call(fake_zhipu, make_sdk) -> None:
    sdk = make_sdk(jwt=True)

    plain = await asyncio.to_thread(
        sdk.chat.completions.create, model="glm-4.6", messages=[{"role": "user", "content": "Hi"}]
    )
    called = await asyncio.to_thread(
        sdk.chat.completions.create, model="glm-4.6", messages=[{"role": "user", "content": "Hi"}], tools=[WEATHER]
    )

    assert plain.choices[0].message.content == "Hello!" and plain.usage.total_tokens == 12
    assert plain.request_id == "req-fake"
    assert called.choices[0].finish_reason == "tool_calls"
    assert called.choices[0].message.tool_calls[0].function.name == "get_weather"
    assert len(fake_zhipu.tokens) == 2  # each request carried a JWT the fake verified


async def test_sdk_parses_text_and_tool_streams_with_usage_on_the_last_chunk(fake_zhipu, make_sdk) -> None:
    # The SDK's chunk model requires an `extra_json` field no server sends, so it cannot validate streams strictly;
    # each chunk the fake serves is validated strictly below instead, with that field filled in.
    sdk = make_sdk(jwt=False, strict=False)  # the plain key is accepted too

    def collect(**kwargs: Any) -> list[Any]:
        return list(sdk.chat.completions.create(model="glm-4.6", stream=True, **kwargs))

    text = await asyncio.to_thread(collect, messages=[{"role": "user", "content": "Hi"}])
    tools = await asyncio.to_thread(collect, messages=[{"role": "user", "content": "Weather?"}], tools=[WEATHER])

    assert "".join(c.choices[0].delta.content or "" for c in text) == "Hello!"
    assert text[-1].choices[0].finish_reason == "stop" and text[-1].usage.completion_tokens == 3
    assert tools[0].choices[0].delta.tool_calls[0].function.name == "get_weather"
    assert tools[-1].choices[0].finish_reason == "tool_calls" and tools[-1].usage is not None
    assert fake_zhipu.tokens == []
    async with httpx.AsyncClient() as http:
        for tools in ([], [WEATHER]):
            body = {"model": "glm-4.6", "messages": HI, "stream": True, "tools": tools}
            answer = await http.post(f"{fake_zhipu.url}{PREFIX}/chat/completions", json=body, headers=BEARER)
            for event in SSEDecoder().feed(answer.content):
                if event.data != b"[DONE]":
                    ChatCompletionChunk.model_validate({**orjson.loads(event.data), "extra_json": {}})


async def test_sdk_parses_embeddings(fake_zhipu, make_sdk) -> None:
    sdk = make_sdk(jwt=True)

    embedded = await asyncio.to_thread(sdk.embeddings.create, model="embedding-3", input=["a", "b"], dimensions=256)

    assert [item.index for item in embedded.data] == [0, 1]
    assert len(embedded.data[0].embedding) == 256
    assert embedded.usage.prompt_tokens == 2


async def test_the_fake_refuses_a_jwt_signed_with_the_wrong_secret_or_expired(fake_zhipu, make_sdk) -> None:
    forged = make_sdk(jwt=True, api_key=f"{KEY.split('.')[0]}.not-the-secret")
    with pytest.raises(zhipuai.APIAuthenticationError, match="1002"):
        await asyncio.to_thread(
            forged.chat.completions.create, model="glm-4.6", messages=[{"role": "user", "content": "Hi"}]
        )

    fake_zhipu.clock = lambda: 4_000_000_000.0  # 2096: every token made now has expired
    with pytest.raises(zhipuai.APIAuthenticationError, match="1003"):
        await asyncio.to_thread(
            make_sdk(jwt=True).chat.completions.create,
            model="glm-4.6",
            messages=[{"role": "user", "content": "Hi"}],
        )


# --- same logical call, same request -----------------------------------------------------------------------------


async def test_plain_chat_request_matches_the_sdk(runtime, fake_zhipu, make_sdk) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    sdk = make_sdk(jwt=True)
    await asyncio.to_thread(
        sdk.chat.completions.create,
        model="glm-4-plus",
        messages=messages,
        temperature=0.0,
        top_p=1.0,
        max_tokens=100,
        stop=["END"],
        seed=3,
        user_id="end-user-42",
        response_format={"type": "json_object"},
    )

    result = await runtime.chat(
        provider="zhipuai",
        model="glm-4-plus",
        credentials=credentials(fake_zhipu),
        messages=messages,
        temperature=0.0,
        top_p=1.0,
        max_tokens=100,
        stop=["END"],
        seed=3,
        user="end-user-42",
        response_format=ResponseFormat("json_object"),
    )

    assert_same_request(fake_zhipu)
    assert sent(fake_zhipu, -1)["do_sample"] is False
    assert result.content == "Hello!" and result.usage.total_tokens == 12
    prove("zhipuai", "llm", "invoke")


async def test_streamed_tool_chat_request_matches_the_sdk(runtime, fake_zhipu, make_sdk) -> None:
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    sdk = make_sdk(jwt=True, strict=False)
    await asyncio.to_thread(
        lambda: list(
            sdk.chat.completions.create(
                model="glm-4.5-air", messages=messages, tools=[WEATHER], tool_choice="auto", stream=True
            )
        )
    )

    stream = await runtime.chat(
        provider="zhipuai",
        model="glm-4.5-air",
        credentials=credentials(fake_zhipu),
        messages=messages,
        tools=[WEATHER],
        tool_choice="auto",
        stream=True,
    )
    result = await stream.collect()

    assert_same_request(fake_zhipu)
    assert [(c.name, orjson.loads(c.arguments)) for c in result.tool_calls] == [("get_weather", {"q": "x"})]
    assert result.finish_reason == "tool_calls"
    assert result.usage.prompt_tokens == 9
    prove("zhipuai", "llm", "streaming")
    prove("zhipuai", "llm", "tools")


async def test_vision_request_matches_the_sdk_which_strips_the_data_url_prefix(runtime, fake_zhipu, make_sdk) -> None:
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="

    def messages() -> list[dict[str, Any]]:  # the SDK edits the messages it is given, so each caller gets its own
        image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}}
        return [{"role": "user", "content": [{"type": "text", "text": "What is this?"}, image]}]

    sdk = make_sdk(jwt=True)
    await asyncio.to_thread(sdk.chat.completions.create, model="glm-4v-flash", messages=messages())
    await runtime.chat(
        provider="zhipuai", model="glm-4v-flash", credentials=credentials(fake_zhipu), messages=messages()
    )

    assert_same_request(fake_zhipu)
    assert sent(fake_zhipu, -1)["messages"][0]["content"][1]["image_url"] == {"url": png}
    prove("zhipuai", "llm", "vision")


async def test_embeddings_request_matches_the_sdk(runtime, fake_zhipu, make_sdk) -> None:
    sdk = make_sdk(jwt=True)
    await asyncio.to_thread(sdk.embeddings.create, model="embedding-3", input=["a", "b"], dimensions=512)

    result = await runtime.embed(
        provider="zhipuai", model="embedding-3", credentials=credentials(fake_zhipu), texts=["a", "b"], dimensions=512
    )

    assert_same_request(fake_zhipu)
    assert [len(vector) for vector in result.vectors] == [512, 512]
    prove("zhipuai", "text-embedding", "invoke")


# --- errors through the runtime ----------------------------------------------------------------------------------


async def test_arrears_arrive_as_429_and_are_a_quota_error(runtime, fake_zhipu) -> None:
    fake_zhipu.fail_with(429, "1113", "您的账户已欠费，请充值后重试")

    with pytest.raises(ProviderQuotaExhaustedError, match="1113"):
        await runtime.chat(provider="zhipuai", model="glm-4.6", credentials=credentials(fake_zhipu), messages=HI)


async def test_a_refused_jwt_is_an_auth_error_and_the_secret_never_travels(runtime, fake_zhipu) -> None:
    wrong = {**credentials(fake_zhipu), "api_key": f"{KEY.split('.')[0]}.wrong-secret"}

    with pytest.raises(UpstreamAuthError, match="1002"):
        await runtime.chat(provider="zhipuai", model="glm-4.6", credentials=wrong, messages=HI)

    authorization = fake_zhipu.requests[-1].headers["authorization"]
    assert "wrong-secret" not in authorization
    assert jwt_payload(authorization.removeprefix("Bearer "))["api_key"] == KEY.split(".")[0]


async def test_thinking_and_web_search_switches_match_the_sdk(runtime, fake_zhipu, make_sdk) -> None:
    sdk = make_sdk(jwt=True)
    search = {"type": "web_search", "web_search": {"enable": True}}
    await asyncio.to_thread(
        sdk.chat.completions.create,
        model="glm-5.1",
        messages=HI,
        tools=[WEATHER, search],
        thinking={"type": "disabled"},
    )
    result = await runtime.chat(
        provider="zhipuai",
        model="glm-5.1",
        credentials=credentials(fake_zhipu),
        messages=HI,
        tools=[WEATHER],
        extra={"thinking": False, "web_search": True},
    )
    assert_same_request(fake_zhipu)
    assert result.adjusted_params == ()


async def test_reasoning_effort_goes_to_the_models_that_take_it_and_is_reported_dropped_elsewhere(
    runtime, fake_zhipu
) -> None:
    call = {"provider": "zhipuai", "credentials": credentials(fake_zhipu), "messages": HI, "reasoning_effort": "high"}
    await runtime.chat(model="glm-5.2", **call)
    assert fake_zhipu.requests[-1].json["reasoning_effort"] == "high"
    older = await runtime.chat(model="glm-4.6", **call)
    assert "reasoning_effort" not in fake_zhipu.requests[-1].json
    assert [(a.name, a.action) for a in older.adjusted_params] == [("reasoning_effort", "dropped")]
