"""The Baichuan adapter: its request adjustments, its error names, and round trips through the Baichuan fake.

Baichuan has no SDK of its own and tells users to call it with the `openai` SDK, so that SDK must read what
the fake serves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import orjson
import pytest

from modelyard.errors import (
    ProviderQuotaExhaustedError,
    UnsupportedFeatureError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamUnavailableError,
)
from modelyard.protocols import PROTOCOLS
from modelyard.protocols.baichuan import WEB_SEARCH_TOOL, Baichuan, BaichuanQuirks
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import ChatRequest, EmbeddingRequest, Message, ModerationRequest, Tool
from tests.capabilities import prove
from tests.fakes.baichuan import FakeBaichuan, baichuan_error
from tests.fakes.loopback import served
from tests.fakes.openai import chat_chunk
from tests.protocols.targets import target
from tests.support import SECRET

BASE = "https://api.baichuan-ai.com/v1"
BAICHUAN = Baichuan()
WEATHER = Tool("get_weather", "Weather for a city", {"type": "object", "properties": {"q": {"type": "string"}}})
HI = [{"role": "user", "content": "Hi"}]


def baichuan(model_type: str = "llm", model_id: str = "Baichuan4-Turbo"):
    return target(
        model_type,
        model_id=model_id,
        quirks=BaichuanQuirks(),
        base_url=BASE,
        credentials={"api_key": SECRET, "endpoint_url": BASE},
        protocol="baichuan",
    )


def chat_body(request: ChatRequest, *, stream: bool = False) -> dict:
    built = BAICHUAN.build_chat(baichuan(), request, stream=stream)
    assert built.url == f"{BASE}/chat/completions"
    assert isinstance(built.body, bytes)
    return orjson.loads(built.body)


def test_protocol_is_registered_under_its_name() -> None:
    assert isinstance(PROTOCOLS["baichuan"], Baichuan)


# --- requests ----------------------------------------------------------------------------------------------------


def test_with_search_enhance_becomes_the_web_search_tool_beside_function_tools() -> None:
    request = ChatRequest(messages=(Message.user("News?"),), tools=(WEATHER,), extra={"with_search_enhance": True})

    body = chat_body(request)

    assert "with_search_enhance" not in body
    assert [tool["type"] for tool in body["tools"]] == ["function", "web_search"]
    assert body["tools"][1] == WEB_SEARCH_TOOL


def test_with_search_enhance_off_sends_neither_the_flag_nor_the_tool() -> None:
    body = chat_body(ChatRequest(messages=(Message.user("Hi"),), extra={"with_search_enhance": False}))

    assert "with_search_enhance" not in body and "tools" not in body


def test_a_stream_request_asks_for_no_stream_options() -> None:
    body = chat_body(ChatRequest(messages=(Message.user("Hi"),), max_tokens=2048, temperature=0.3), stream=True)

    assert body == {
        "model": "Baichuan4-Turbo",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 2048,
        "temperature": 0.3,
        "stream": True,
    }


def test_embeddings_send_model_and_input_only() -> None:
    built = BAICHUAN.build_embeddings(baichuan("text-embedding", "Baichuan-Text-Embedding"), EmbeddingRequest(("a",)))

    assert built.url == f"{BASE}/embeddings"
    assert orjson.loads(built.body) == {"model": "Baichuan-Text-Embedding", "input": ["a"]}


# --- errors ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (401, baichuan_error("bad key", type="invalid_api_key"), UpstreamAuthError),
        (401, baichuan_error("no key", type="api_key_empty"), UpstreamAuthError),
        (403, baichuan_error("bad auth", type="invalid_authentication"), UpstreamAuthError),
        (429, baichuan_error("no balance", type="insufficient_quota"), ProviderQuotaExhaustedError),
        (400, baichuan_error("slow down", type="rate_limit_reached_error"), UpstreamRateLimitError),
        (400, baichuan_error("oops", type="internal_server_error"), UpstreamUnavailableError),
        (400, baichuan_error("bad input", type="invalid_request_error"), UpstreamBadRequestError),
        (503, baichuan_error("busy", type="something_new"), UpstreamUnavailableError),
        # Embeddings name the failure in `code` only.
        (429, {"error": {"code": "insufficient_quota", "message": "no balance"}}, ProviderQuotaExhaustedError),
    ],
)
def test_baichuans_error_name_decides_before_the_status(status: int, body: dict, kind: type[UpstreamError]) -> None:
    error = BAICHUAN.parse_error(baichuan(), status, {}, orjson.dumps(body))

    assert type(error) is kind
    assert error.vendor_code
    assert body["error"]["message"] in str(error)


def test_an_error_in_a_200_body_or_mid_stream_is_raised() -> None:
    with pytest.raises(ProviderQuotaExhaustedError):
        BAICHUAN.parse_chat(baichuan(), orjson.dumps(baichuan_error("no balance", type="insufficient_quota")))

    parser = BAICHUAN.chat_stream_parser(baichuan())
    assert parser.feed(ServerSentEvent(orjson.dumps(chat_chunk({"content": "Hel"})))) is not None
    with pytest.raises(UpstreamRateLimitError):
        parser.feed(ServerSentEvent(orjson.dumps(baichuan_error("slow down", type="rate_limit_reached_error"))))


# --- round trips through the fake --------------------------------------------------------------------------------


@pytest.fixture
async def fake_baichuan() -> AsyncIterator[FakeBaichuan]:
    async with served(FakeBaichuan(api_keys={SECRET})) as fake:
        yield fake


@pytest.fixture
def credentials(fake_baichuan) -> dict[str, str]:
    return {"api_key": SECRET, "endpoint_url": f"{fake_baichuan.url}/v1"}


async def test_chat_stream_and_tool_call_through_the_runtime(runtime, fake_baichuan, credentials) -> None:
    plain = await runtime.chat(provider="baichuan", model="Baichuan4-Turbo", credentials=credentials, messages=HI)
    stream = await runtime.chat(
        provider="baichuan", model="Baichuan4-Turbo", credentials=credentials, messages=HI, stream=True
    )
    streamed = await stream.collect()
    called = await runtime.chat(
        provider="baichuan", model="Baichuan4-Air", credentials=credentials, messages=HI, tools=[WEATHER]
    )

    assert plain.content == "Hello!" and not plain.usage.is_estimated
    assert streamed.content == "Hello!" and streamed.usage.completion_tokens == 3 and not streamed.usage.is_estimated
    assert "stream_options" not in fake_baichuan.requests[1].json
    assert [c.name for c in called.tool_calls] == ["get_weather"] and called.finish_reason == "tool_calls"
    assert fake_baichuan.last.headers["authorization"] == f"Bearer {SECRET}"
    prove("baichuan", "llm", "invoke")
    prove("baichuan", "llm", "streaming")
    prove("baichuan", "llm", "tools")


async def test_embeddings_through_the_runtime(runtime, fake_baichuan, credentials) -> None:
    result = await runtime.embed(
        provider="baichuan", model="Baichuan-Text-Embedding", credentials=credentials, texts=["a", "b"]
    )

    assert len(result.vectors) == 2
    assert fake_baichuan.last.json == {"model": "Baichuan-Text-Embedding", "input": ["a", "b"]}
    prove("baichuan", "text-embedding", "invoke")


async def test_a_wrong_key_is_an_auth_error(runtime, fake_baichuan, credentials) -> None:
    wrong = {**credentials, "api_key": "sk-wrong-000000000"}

    with pytest.raises(UpstreamAuthError, match="invalid_api_key"):
        await runtime.chat(provider="baichuan", model="Baichuan4-Turbo", credentials=wrong, messages=HI)


async def test_the_openai_sdk_reads_what_the_fake_serves(fake_baichuan) -> None:
    base_url = f"{fake_baichuan.url}/v1"
    async with openai.AsyncOpenAI(api_key=SECRET, base_url=base_url, max_retries=0) as sdk:
        answer = await sdk.chat.completions.create(model="Baichuan4-Turbo", messages=HI)
        stream = await sdk.chat.completions.create(model="Baichuan4-Turbo", messages=HI, stream=True)
        chunks = [chunk async for chunk in stream]
        embedded = await sdk.embeddings.create(model="Baichuan-Text-Embedding", input=["a"])

    assert answer.choices[0].message.content == "Hello!"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello!"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 12
    assert embedded.data[0].embedding
    async with openai.AsyncOpenAI(api_key="sk-wrong", base_url=base_url, max_retries=0) as wrong:
        with pytest.raises(openai.AuthenticationError):
            await wrong.models.list()


def test_openai_endpoints_baichuan_does_not_offer_are_refused_not_sent() -> None:
    with pytest.raises(UnsupportedFeatureError):
        BAICHUAN.build_moderation(baichuan("moderation"), ModerationRequest(("Hi",)))
    with pytest.raises(UnsupportedFeatureError):
        BAICHUAN.build_list_models(baichuan())
