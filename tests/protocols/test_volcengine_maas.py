"""Volcengine's legacy MaaS v2 held to the volcengine SDK: the SDK parses what the fake serves, our requests match
the SDK's field by field, and the fake verifies every V4 signature (ours and the SDK's) with the SDK's signer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from volcengine.maas import MaasException
from volcengine.maas.v2 import MaasService

from modelyard.errors import (
    ContentFilteredError,
    UnsupportedFeatureError,
    UpstreamAuthError,
    UpstreamRateLimitError,
    UpstreamUnavailableError,
)
from modelyard.protocols import PROTOCOLS
from modelyard.types import ChatRequest, ImagePart, Message, TextPart, Tool
from tests.capabilities import prove
from tests.fakes.loopback import served
from tests.fakes.volcengine import FakeVolcengineMaaS, answer, error_body, function_call, piece, sse
from tests.protocols.targets import target
from tests.support import SECRET

PROVIDER = "volcengine_maas_legacy"
ACCESS_KEY = "AKLTfakeaccesskey0001"
SECRET_KEY = SECRET
ENDPOINT = "ep-20240101123456-abcde"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeVolcengineMaaS]:
    async with served(FakeVolcengineMaaS(keys={ACCESS_KEY: SECRET_KEY})) as upstream:
        yield upstream


@pytest.fixture
def credentials(fake) -> dict[str, str]:
    return {
        "volc_access_key_id": ACCESS_KEY,
        "volc_secret_access_key": SECRET_KEY,
        "api_endpoint_host": fake.url,
        "endpoint_id": ENDPOINT,
        "base_model_name": "Doubao-pro-32k",
    }


@pytest.fixture
def sdk(fake) -> MaasService:
    service = MaasService(fake.url.removeprefix("http://"), "cn-beijing")
    service.service_info.scheme = "http"  # the SDK says https; the fake listens on plain loopback
    service.set_ak(ACCESS_KEY)
    service.set_sk(SECRET_KEY)
    return service


def assert_same_request(fake: FakeVolcengineMaaS) -> None:
    theirs, ours = fake.requests[-2], fake.requests[-1]
    assert ours.path == theirs.path == f"/api/v2/endpoint/{ENDPOINT}/{ours.path.rsplit('/', 1)[-1]}"
    assert ours.json == theirs.json
    assert fake.signature_ok[-2:] == [True, True]
    assert ours.headers["authorization"].startswith(f"HMAC-SHA256 Credential={ACCESS_KEY}/")
    assert "/cn-beijing/ml_maas/request, " in ours.headers["authorization"]


# --- same logical call, same request -----------------------------------------------------------------------------


async def test_plain_chat_request_matches_the_sdk(sdk, runtime, fake, credentials) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "天为什么这么蓝"}]
    parameters = {"max_new_tokens": 100, "temperature": 0.5, "top_p": 0.9, "top_k": 5, "stop": ["END"]}
    answered = await asyncio.to_thread(sdk.chat, ENDPOINT, {"messages": messages, "parameters": parameters})
    result = await runtime.chat(
        provider=PROVIDER,
        model="my-endpoint",
        credentials=credentials,
        messages=messages,
        max_tokens=100,
        temperature=0.5,
        top_p=0.9,
        stop=["END"],
        extra={"top_k": 5},
    )

    assert_same_request(fake)
    assert answered.choices[0].message.content == result.content == "Hello!"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (9, 3)
    assert result.usage.currency == "CNY" and result.usage.total_price > 0  # priced as the base model
    prove(PROVIDER, "llm", "invoke")


async def test_tool_history_request_matches_the_sdk(sdk, runtime, fake, credentials) -> None:
    ours = [
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "get_weather", **function_call("get_weather", '{"city": "Oslo"}')}],
        },
        {"role": "tool", "tool_call_id": "get_weather", "content": "-3 C"},
    ]
    theirs = [
        ours[0],
        {"role": "assistant", "content": "", "tool_calls": [function_call("get_weather", '{"city": "Oslo"}')]},
        {"role": "function", "name": "get_weather", "content": "-3 C"},
    ]
    fake.reply_json(answer("Cold."))
    fake.reply_json(answer("Cold."))
    await asyncio.to_thread(sdk.chat, ENDPOINT, {"messages": theirs, "parameters": {}, "tools": [WEATHER]})
    await runtime.chat(provider=PROVIDER, model="m", credentials=credentials, messages=ours, tools=[WEATHER])
    assert_same_request(fake)


async def test_chat_reads_a_tool_call_the_sdk_reads_too(sdk, runtime, fake, credentials) -> None:
    call = function_call("get_weather", '{"city": "Oslo"}')
    fake.reply_json(answer("", tool_calls=[call], finish_reason="tool_calls"))
    fake.reply_json(answer("", tool_calls=[call], finish_reason="tool_calls"))

    answered = await asyncio.to_thread(
        sdk.chat, ENDPOINT, {"messages": [{"role": "user", "content": "?"}], "tools": [WEATHER]}
    )
    result = await runtime.chat(
        provider=PROVIDER,
        model="m",
        credentials=credentials,
        messages=[{"role": "user", "content": "?"}],
        tools=[WEATHER],
    )

    assert answered.choices[0].message.tool_calls[0].function.name == "get_weather"
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [
        ("get_weather", "get_weather", '{"city": "Oslo"}')
    ]
    assert result.finish_reason == "tool_calls"
    prove(PROVIDER, "llm", "tools")


async def test_stream_is_read_alike_by_the_sdk_and_by_us(sdk, runtime, fake, credentials) -> None:
    events = sse(piece("天空"), piece("是蓝的"), piece("。", "stop", usage=(7, 4)))
    fake.stream(events)
    fake.stream(events)

    pieces = await asyncio.to_thread(
        lambda: [
            r.choices[0].message.content
            for r in sdk.stream_chat(ENDPOINT, {"messages": [{"role": "user", "content": "?"}]})
        ]
    )
    stream = await runtime.chat(
        provider=PROVIDER, model="m", credentials=credentials, messages=[{"role": "user", "content": "?"}], stream=True
    )
    result = await stream.collect()

    assert "".join(pieces) == result.content == "天空是蓝的。"
    assert fake.requests[-1].json["stream"] is True and fake.requests[-2].json["stream"] is True
    assert result.finish_reason == "stop"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (7, 4)
    prove(PROVIDER, "llm", "streaming")


async def test_embeddings_request_matches_the_sdk(sdk, runtime, fake, credentials) -> None:
    embedding_credentials = {**credentials, "base_model_name": "Doubao-embedding"}
    answered = await asyncio.to_thread(sdk.embeddings, ENDPOINT, {"input": ["天很蓝", "海很深"]})
    result = await runtime.embed(
        provider=PROVIDER, model="my-embedder", credentials=embedding_credentials, texts=["天很蓝", "海很深"]
    )

    assert_same_request(fake)
    assert [item.embedding for item in answered.data] == list(result.vectors)
    prove(PROVIDER, "text-embedding", "invoke")


# --- errors ------------------------------------------------------------------------------------------------------


async def test_a_wrong_secret_fails_the_signature_check_as_auth(runtime, fake, credentials) -> None:
    with pytest.raises(UpstreamAuthError, match="signature") as caught:
        await runtime.chat(
            provider=PROVIDER,
            model="m",
            credentials={**credentials, "volc_secret_access_key": "volc-wrong-secret-000111222"},
            messages=[{"role": "user", "content": "Hi"}],
        )
    assert fake.signature_ok == [False]
    assert caught.value.vendor_code == "SignatureDoesNotMatch (1709701)"


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("EndpointAccountRpmRateLimitExceeded", 429, UpstreamRateLimitError),
        ("ReqTextExistRisk", 400, ContentFilteredError),
        ("InternalServiceError", 500, UpstreamUnavailableError),
        ("UnauthorizedUserForEndpoint", 403, UpstreamAuthError),
    ],
)
async def test_error_codes_map_to_the_hierarchy(runtime, fake, credentials, code, status, kind) -> None:
    fake.fail(code, f"{code} happened", status=status)
    with pytest.raises(kind, match=f"{code} happened"):
        await runtime.chat(
            provider=PROVIDER, model="m", credentials=credentials, messages=[{"role": "user", "content": "Hi"}]
        )


async def test_an_error_inside_a_200_answer_is_raised(runtime, fake, credentials) -> None:
    fake.reply_json({**error_body("EndpointRateLimitExceeded", "slow down"), "choices": []})
    with pytest.raises(UpstreamRateLimitError, match="slow down"):
        await runtime.chat(
            provider=PROVIDER, model="m", credentials=credentials, messages=[{"role": "user", "content": "Hi"}]
        )


async def test_an_error_event_mid_stream_is_raised_as_the_sdk_would(sdk, runtime, fake, credentials) -> None:
    events = sse(piece("Hel"), {**piece(""), **error_body("RespTextExistRisk", "the answer was blocked")})
    fake.stream(events)
    fake.stream(events)

    def read_with_the_sdk() -> Any:
        return list(sdk.stream_chat(ENDPOINT, {"messages": [{"role": "user", "content": "?"}]}))

    with pytest.raises(MaasException) as sdk_caught:
        await asyncio.to_thread(read_with_the_sdk)
    stream = await runtime.chat(
        provider=PROVIDER, model="m", credentials=credentials, messages=[{"role": "user", "content": "?"}], stream=True
    )
    with pytest.raises(ContentFilteredError, match="the answer was blocked"):
        await stream.collect()
    assert sdk_caught.value.code == "RespTextExistRisk"


def test_build_chat_refuses_images_it_cannot_send() -> None:

    request = ChatRequest((Message.user([TextPart("?"), ImagePart("https://example.test/a.png")]),))
    with pytest.raises(UnsupportedFeatureError):
        PROTOCOLS["volcengine_maas_v2"].build_chat(target(protocol="volcengine_maas_v2"), request, stream=False)


def test_parse_chat_tolerates_the_v1_choice_shape() -> None:

    body = orjson.dumps(
        {"req_id": "r", "choice": {"message": {"role": "assistant", "content": "old"}, "finish_reason": "stop"}}
    )
    assert PROTOCOLS["volcengine_maas_v2"].parse_chat(target(), body).content == "old"


def test_build_chat_offers_no_tools_for_tool_choice_none_and_refuses_a_forced_one() -> None:

    protocol, tool = PROTOCOLS["volcengine_maas_v2"], Tool("f", "", {"type": "object"})
    none = ChatRequest((Message.user("?"),), tools=(tool,), tool_choice="none")
    assert "tools" not in orjson.loads(protocol.build_chat(target(), none, stream=False).body or b"{}")
    with pytest.raises(UnsupportedFeatureError, match="tool_choice"):
        protocol.build_chat(
            target(), ChatRequest((Message.user("?"),), tools=(tool,), tool_choice="required"), stream=False
        )
