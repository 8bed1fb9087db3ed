"""The fake and our adapter held to the vendor's own code: the `google-genai` SDK (and google-auth for Vertex).

The SDK must parse everything the fake serves, and for the same logical call our request must match the SDK's,
field for field. The SDK writes a few nested keys in snake_case (`mime_type`, `parameters_json_schema`,
`include_thoughts`) where we write the REST reference's camelCase; Google's proto-JSON parser reads both as the
same field, so bodies are compared with every key in camelCase, leaving the caller's own data (schemas,
arguments, tool output) untouched.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import orjson
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from google.oauth2 import service_account

from modelyard.errors import ContentFilteredError, UpstreamAuthError, UpstreamRateLimitError, UpstreamUnavailableError
from modelyard.types import ResponseFormat
from tests.fakes.gemini import (
    FakeGoogle,
    answer,
    blocked,
    call_part,
    decode_jwt,
    service_account_info,
    sse,
    status_error,
    text_part,
    usage,
)
from tests.fakes.registry import FAKES, serving
from tests.support import SECRET

WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather for a city", "parameters": WEATHER_SCHEMA},
}
SDK_WEATHER = types.Tool(
    function_declarations=[
        types.FunctionDeclaration(
            name="get_weather", description="Weather for a city", parameters_json_schema=WEATHER_SCHEMA
        )
    ]
)
PNG = b"\x89PNG\r\n\x1a\n-pixels-"
OPAQUE = frozenset({"args", "response", "parametersJsonSchema", "responseJsonSchema", "parameters", "responseSchema"})


def camel(value: Any) -> Any:
    """Every key in camelCase, except inside the caller's own data."""
    if isinstance(value, list):
        return [camel(item) for item in value]
    if not isinstance(value, dict):
        return value
    result = {}
    for key, item in value.items():
        head, *rest = key.split("_")
        name = head + "".join(word[:1].upper() + word[1:] for word in rest)
        result[name] = item if name in OPAQUE else camel(item)
    return result


@pytest.fixture
async def fake_google() -> AsyncIterator[FakeGoogle]:
    async with serving(FAKES["gemini"]) as upstream:
        yield upstream


@pytest.fixture
def credentials(fake_google) -> dict[str, str]:
    return {"google_api_key": SECRET, "api_base": fake_google.url}


def http_options(url: str, version: str, **clients: Any) -> types.HttpOptions:
    retry = types.HttpRetryOptions(attempts=1)
    return types.HttpOptions(base_url=url, api_version=version, retry_options=retry, **clients)


@pytest.fixture
async def sdk(fake_google) -> AsyncIterator[genai.Client]:
    # Given its own httpx2 client: with aiohttp installed the SDK subclasses aiohttp's ClientSession, which
    # aiohttp deprecates, and warnings are errors here.
    async with httpx2.AsyncClient(verify=False) as client:  # plain HTTP to the loopback fake
        options = http_options(fake_google.url, "v1beta", httpx_async_client=client)
        yield genai.Client(api_key=SECRET, http_options=options)


def assert_same_request(fake) -> None:
    ours, theirs = fake.requests[-1], fake.requests[-2]
    assert ours.path == theirs.path
    assert ours.query == theirs.query
    assert camel(ours.json) == camel(theirs.json)
    for header in ("x-goog-api-key", "authorization"):
        assert ours.headers.get(header) == theirs.headers.get(header)
    assert ours.headers["content-type"].split(";")[0] == theirs.headers["content-type"].split(";")[0]


def thinking(**fields: Any) -> types.ThinkingConfig:
    return types.ThinkingConfig(include_thoughts=True, **fields)


# --- same logical call, same request -----------------------------------------------------------------------------


async def test_plain_chat_request_matches_the_sdk(sdk, runtime, fake_google, credentials) -> None:
    await sdk.aio.models.generate_content(
        model="gemini-2.5-flash",
        contents=[types.Content(role="user", parts=[types.Part(text="Hi")])],
        config=types.GenerateContentConfig(
            system_instruction=types.Content(parts=[types.Part(text="Be brief.")]),
            temperature=0.5,
            top_p=0.9,
            max_output_tokens=100,
            stop_sequences=["END"],
            seed=3,
            thinking_config=thinking(),
        ),
    )
    await runtime.chat(
        provider="gemini",
        model="gemini-2.5-flash",
        credentials=credentials,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        temperature=0.5,
        top_p=0.9,
        max_tokens=100,
        stop=["END"],
        seed=3,
    )
    assert_same_request(fake_google)


async def test_streamed_tool_chat_request_matches_the_sdk(sdk, runtime, fake_google, credentials) -> None:
    async for _ in await sdk.aio.models.generate_content_stream(
        model="gemini-2.5-flash",
        contents=[types.Content(role="user", parts=[types.Part(text="Weather in Paris?")])],
        config=types.GenerateContentConfig(
            tools=[SDK_WEATHER],
            tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="AUTO")),
            thinking_config=thinking(),
        ),
    ):
        pass
    stream = await runtime.chat(
        provider="gemini",
        model="gemini-2.5-flash",
        credentials=credentials,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER],
        tool_choice="auto",
        stream=True,
    )
    await stream.collect()
    assert fake_google.last.path.endswith(":streamGenerateContent")
    assert fake_google.last.query == {"alt": "sse"}
    assert_same_request(fake_google)


async def test_vision_and_json_schema_request_matches_the_sdk(sdk, runtime, fake_google, credentials) -> None:
    schema = {"type": "object", "properties": {"caption": {"type": "string"}}, "required": ["caption"]}
    await sdk.aio.models.generate_content(
        model="gemini-3.8-flash",
        contents=[
            types.Content(
                role="user",
                parts=[
                    types.Part(text="Describe"),
                    types.Part.from_bytes(data=PNG, mime_type="image/png"),
                    types.Part.from_uri(file_uri="https://example.test/cat.png", mime_type="image/png"),
                ],
            )
        ],
        config=types.GenerateContentConfig(
            response_mime_type="application/json", response_json_schema=schema, thinking_config=thinking()
        ),
    )
    data_url = f"data:image/png;base64,{base64.b64encode(PNG).decode()}"
    await runtime.chat(
        provider="gemini",
        model="gemini-3.8-flash",
        credentials=credentials,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe"},
                    {"type": "image_url", "image_url": {"url": data_url}},
                    {"type": "image_url", "image_url": {"url": "https://example.test/cat.png"}},
                ],
            }
        ],
        response_format=ResponseFormat("json_schema", "caption", schema),
    )
    assert_same_request(fake_google)


async def test_tool_history_with_a_thought_signature_matches_the_sdk(sdk, runtime, fake_google, credentials) -> None:
    signature = b"opaque-signature-bytes"
    await sdk.aio.models.generate_content(
        model="gemini-3.8-flash",
        contents=[
            types.Content(role="user", parts=[types.Part(text="Weather in Oslo?")]),
            types.Content(
                role="model",
                parts=[
                    types.Part(
                        function_call=types.FunctionCall(id="fc-1", name="get_weather", args={"city": "Oslo"}),
                        thought_signature=signature,
                    )
                ],
            ),
            types.Content(
                role="user",
                parts=[
                    types.Part(
                        function_response=types.FunctionResponse(
                            id="fc-1", name="get_weather", response={"output": "sunny"}
                        )
                    )
                ],
            ),
        ],
        config=types.GenerateContentConfig(tools=[SDK_WEATHER], thinking_config=thinking(thinking_level="LOW")),
    )
    call_id = f"fc-1__thought__{base64.b64encode(signature).decode()}"
    await runtime.chat(
        provider="gemini",
        model="gemini-3.8-flash",
        credentials=credentials,
        messages=[
            {"role": "user", "content": "Weather in Oslo?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call_id, "content": "sunny"},
        ],
        tools=[WEATHER],
        reasoning_effort="low",
    )
    assert_same_request(fake_google)


async def test_embeddings_request_matches_the_sdk(sdk, runtime, fake_google, credentials) -> None:
    await sdk.aio.models.embed_content(
        model="gemini-embedding-001",
        contents=["first text", "second text"],
        config=types.EmbedContentConfig(task_type="RETRIEVAL_QUERY", output_dimensionality=8),
    )
    result = await runtime.embed(
        provider="gemini",
        model="gemini-embedding-001",
        credentials=credentials,
        texts=["first text", "second text"],
        dimensions=8,
        input_type="query",
    )
    assert_same_request(fake_google)
    assert [len(v) for v in result.vectors] == [8, 8]


# --- the SDK reads what the fake serves, and so do we ------------------------------------------------------------


async def test_function_calls_and_thoughts_read_the_same_by_the_sdk_and_by_us(
    sdk, runtime, fake_google, credentials
) -> None:
    reply = answer(
        text_part("Two cities.", thought=True),
        call_part("get_weather", {"city": "Oslo"}, id="fc-1", signature="c2ln"),
        call_part("get_weather", {"city": "Rome"}, id="fc-2"),
        tokens=usage(20, 8, thoughts=5),
    )
    fake_google.reply_json(reply)
    fake_google.reply_json(reply)
    theirs = await sdk.aio.models.generate_content(model="gemini-2.5-flash", contents="Oslo and Rome?")
    ours = await runtime.chat(
        provider="gemini",
        model="gemini-2.5-flash",
        credentials=credentials,
        messages=[{"role": "user", "content": "x"}],
    )

    assert [(c.id, c.name, c.args) for c in theirs.function_calls] == [
        ("fc-1", "get_weather", {"city": "Oslo"}),
        ("fc-2", "get_weather", {"city": "Rome"}),
    ]
    assert [(c.id.split("__")[0], c.name, orjson.loads(c.arguments)) for c in ours.tool_calls] == [
        (c.id, c.name, c.args) for c in theirs.function_calls
    ]
    assert ours.reasoning == "Two cities."
    assert ours.finish_reason == "tool_calls"
    assert theirs.usage_metadata.thoughts_token_count == ours.usage.reasoning_tokens == 5
    assert ours.usage.completion_tokens == 8 + 5


async def test_a_stream_reads_the_same_by_the_sdk_and_by_us(sdk, runtime, fake_google, credentials) -> None:
    body = sse(
        answer(text_part("Let me check.", thought=True), finish=None, tokens=usage(12, 0, thoughts=3)),
        answer(text_part("Checking "), finish=None, tokens=usage(12, 2, thoughts=3)),
        answer(
            call_part("get_weather", {"city": "Oslo"}, id="fc-1", signature="c2ln"), tokens=usage(12, 9, thoughts=3)
        ),
    )
    fake_google.stream(body, piece_size=7)
    fake_google.stream(body, piece_size=7)
    sdk_chunks = [c async for c in await sdk.aio.models.generate_content_stream(model="gemini-2.5-flash", contents="x")]
    stream = await runtime.chat(
        provider="gemini",
        model="gemini-2.5-flash",
        credentials=credentials,
        messages=[{"role": "user", "content": "x"}],
        stream=True,
    )
    ours = await stream.collect()

    assert len(sdk_chunks) == 3
    assert sdk_chunks[-1].function_calls[0].args == {"city": "Oslo"}
    assert ours.content == "Checking "
    assert ours.reasoning == "Let me check."
    assert [(c.name, c.arguments) for c in ours.tool_calls] == [("get_weather", '{"city":"Oslo"}')]
    assert ours.tool_calls[0].id == "fc-1__thought__c2ln"
    assert ours.finish_reason == "tool_calls"
    assert (ours.usage.prompt_tokens, ours.usage.completion_tokens) == (12, 12)


async def test_a_blocked_prompt_reads_as_blocked_by_the_sdk_and_by_us(sdk, runtime, fake_google, credentials) -> None:
    fake_google.reply_json(blocked("SAFETY"))
    fake_google.reply_json(blocked("SAFETY"))
    theirs = await sdk.aio.models.generate_content(model="gemini-2.5-flash", contents="x")
    assert theirs.prompt_feedback.block_reason == "SAFETY"
    assert not theirs.candidates
    with pytest.raises(ContentFilteredError):
        await runtime.chat(
            provider="gemini",
            model="gemini-2.5-flash",
            credentials=credentials,
            messages=[{"role": "user", "content": "x"}],
        )


async def test_an_invalid_key_is_a_400_for_the_sdk_and_an_auth_error_for_us(
    sdk, runtime, fake_google, credentials
) -> None:
    fake_google.api_key = "AIza-the-right-one"
    with pytest.raises(genai_errors.ClientError) as theirs:
        await sdk.aio.models.generate_content(model="gemini-2.5-flash", contents="x")
    assert (theirs.value.code, theirs.value.status) == (400, "INVALID_ARGUMENT")
    with pytest.raises(UpstreamAuthError) as ours:
        await runtime.chat(
            provider="gemini",
            model="gemini-2.5-flash",
            credentials=credentials,
            messages=[{"role": "user", "content": "x"}],
        )
    assert ours.value.vendor_code == "API_KEY_INVALID"
    assert SECRET not in str(ours.value)


async def test_a_quota_error_is_read_by_the_sdk_and_retried_later_by_us(sdk, runtime, fake_google, credentials) -> None:
    for _ in range(2):
        fake_google.fail(429, "RESOURCE_EXHAUSTED", "Quota exceeded for metric", retry_delay="21s")
    with pytest.raises(genai_errors.ClientError) as theirs:
        await sdk.aio.models.generate_content(model="gemini-2.5-flash", contents="x")
    assert theirs.value.code == 429
    with pytest.raises(UpstreamRateLimitError) as ours:
        await runtime.chat(
            provider="gemini",
            model="gemini-2.5-flash",
            credentials=credentials,
            messages=[{"role": "user", "content": "x"}],
        )
    assert ours.value.retry_after_s == 21


async def test_an_error_inside_a_stream_stops_the_sdk_and_us(sdk, runtime, fake_google, credentials) -> None:
    body = sse(answer(text_part("Hel"), finish=None), status_error(503, "UNAVAILABLE", "The model is overloaded."))
    fake_google.stream(body)
    fake_google.stream(body)
    with pytest.raises(genai_errors.ServerError):
        async for _ in await sdk.aio.models.generate_content_stream(model="gemini-2.5-flash", contents="x"):
            pass
    stream = await runtime.chat(
        provider="gemini",
        model="gemini-2.5-flash",
        credentials=credentials,
        messages=[{"role": "user", "content": "x"}],
        stream=True,
    )
    seen = []
    with pytest.raises(UpstreamUnavailableError):
        async for chunk in stream:
            seen.append(chunk.content)
    assert seen == ["Hel"]


async def test_model_lists_read_the_same_by_the_sdk_and_by_us(sdk, runtime, fake_google, credentials) -> None:
    theirs = [m.name async for m in await sdk.aio.models.list()]
    ours = await runtime.list_remote_models(provider="gemini", credentials=credentials)
    assert [m.id for m in ours] == [name.removeprefix("models/") for name in theirs]


# --- Vertex AI: the SDK with a service-account key, google-auth doing the token exchange -------------------------


@pytest.fixture
def key_info(fake_google) -> dict[str, str]:
    return service_account_info(f"{fake_google.url}/token")


@pytest.fixture
def vertex_sdk(fake_google, key_info) -> genai.Client:
    signer = service_account.Credentials.from_service_account_info(
        key_info, scopes=["https://www.googleapis.com/auth/cloud-platform"]
    )
    return genai.Client(
        vertexai=True,
        project="test-project",
        location="us-central1",
        credentials=signer,
        http_options=http_options(fake_google.url, "v1"),
    )


@pytest.fixture
def vertex_credentials(fake_google, key_info) -> dict[str, str]:
    return {
        "service_account_json": orjson.dumps(key_info).decode(),
        "project_id": "test-project",
        "location": "us-central1",
        "api_endpoint": fake_google.url,
    }


def assert_same_token_request(fake) -> None:
    """Both exchanges carry the same form; both assertions the same header and claims, bar the clock."""
    ours, theirs = fake.token_requests[-1], fake.token_requests[-2]
    our_form, their_form = (dict(pair.split("=", 1) for pair in r.body.decode().split("&")) for r in (ours, theirs))
    assert our_form.keys() == their_form.keys() == {"grant_type", "assertion"}
    assert our_form["grant_type"] == their_form["grant_type"]
    assert ours.headers["content-type"] == theirs.headers["content-type"]
    (our_header, our_claims, *_), (their_header, their_claims, *_) = (
        decode_jwt(form["assertion"]) for form in (our_form, their_form)
    )
    assert our_header == their_header
    assert our_claims.keys() == their_claims.keys()
    assert {k: v for k, v in our_claims.items() if k not in ("iat", "exp")} == {
        k: v for k, v in their_claims.items() if k not in ("iat", "exp")
    }


async def test_vertex_chat_and_token_exchange_match_the_sdk(
    vertex_sdk, runtime, fake_google, vertex_credentials
) -> None:
    config = types.GenerateContentConfig(
        system_instruction=types.Content(parts=[types.Part(text="Be brief.")]),
        max_output_tokens=64,
        thinking_config=thinking(),
    )
    theirs = await asyncio.to_thread(
        vertex_sdk.models.generate_content,
        model="gemini-2.5-flash",
        contents=[types.Content(role="user", parts=[types.Part(text="Hi")])],
        config=config,
    )
    ours = await runtime.chat(
        provider="vertex_ai",
        model="gemini-2.5-flash",
        credentials=vertex_credentials,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        max_tokens=64,
    )

    assert theirs.text == ours.content == "Hello!"
    assert (
        fake_google.last.path
        == "/v1/projects/test-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
    )
    assert camel(fake_google.requests[-1].json) == camel(fake_google.requests[-2].json)
    assert len(fake_google.token_requests) == 2  # one exchange each
    assert_same_token_request(fake_google)
    assert all(r.headers["authorization"].startswith("Bearer ya29.fake-") for r in fake_google.requests)


async def test_vertex_embeddings_match_the_sdk_by_model_kind(
    vertex_sdk, runtime, fake_google, vertex_credentials
) -> None:
    config = types.EmbedContentConfig(task_type="RETRIEVAL_DOCUMENT", output_dimensionality=16)
    for model in ("text-embedding-005", "gemini-embedding-001"):
        theirs = await asyncio.to_thread(
            vertex_sdk.models.embed_content, model=model, contents=["first text", "second text"], config=config
        )
        ours = await runtime.embed(
            provider="vertex_ai",
            model=model,
            credentials=vertex_credentials,
            texts=["first text", "second text"],
            dimensions=16,
            input_type="document",
        )
        assert fake_google.requests[-1].path == fake_google.requests[-2].path
        assert camel(fake_google.requests[-1].json) == camel(fake_google.requests[-2].json)
        assert [e.values for e in theirs.embeddings] == list(ours.vectors)
    assert [r.path.rsplit(":", 1)[1] for r in fake_google.requests] == ["predict"] * 2 + ["batchEmbedContents"] * 2
