"""Gemini and Vertex AI through /v1: the `openai` SDK, pointed at the gateway, gets OpenAI's shape back."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import openai
import orjson
import pytest

from tests.capabilities import prove
from tests.fakes.gemini import FakeGoogle, answer, call_part, service_account_info, sse, text_part, usage
from tests.fakes.registry import FAKES, serving
from tests.support import SECRET

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n-pixels-").decode()


@pytest.fixture
async def fake_google() -> AsyncIterator[FakeGoogle]:
    async with serving(FAKES["gemini"]) as upstream:
        yield upstream


@pytest.fixture
async def client(gateway, fake_google) -> AsyncIterator[openai.AsyncOpenAI]:
    values = {"google_api_key": SECRET, "api_base": fake_google.url}
    await gateway.services.credentials.create(
        workspace_id=gateway.workspace_id, provider="gemini", values=values, validate=False
    )
    vertex = {
        "service_account_json": orjson.dumps(service_account_info(f"{fake_google.url}/token")).decode(),
        "project_id": "test-project",
        "location": "us-central1",
        "api_endpoint": fake_google.url,
    }
    await gateway.services.credentials.create(
        workspace_id=gateway.workspace_id, provider="vertex_ai", values=vertex, validate=False
    )
    sdk = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.api_key, max_retries=0)
    try:
        yield sdk
    finally:
        await sdk.close()


async def test_plain_chat_with_reasoning_and_usage(client, fake_google) -> None:
    fake_google.reply_json(
        answer(text_part("Greeting in French.", thought=True), text_part("Bonjour !"), tokens=usage(12, 4, thoughts=3))
    )
    raw = await client.chat.completions.with_raw_response.create(
        model="gemini/gemini-2.5-flash", messages=[{"role": "user", "content": "Say hi in French"}]
    )
    reply = raw.parse()

    assert reply.choices[0].message.content == "Bonjour !"
    assert reply.choices[0].message.model_extra["reasoning_content"] == "Greeting in French."
    assert reply.choices[0].finish_reason == "stop"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (12, 7)
    assert reply.usage.completion_tokens_details.reasoning_tokens == 3
    assert raw.headers["x-modelyard-provider"] == "gemini"
    assert fake_google.last.headers["x-goog-api-key"] == SECRET
    assert fake_google.last.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    prove("gemini", "llm", "invoke")


async def test_streamed_parallel_tool_calls(client, fake_google) -> None:
    fake_google.stream(
        sse(
            answer(call_part("get_weather", {"city": "Oslo"}, id="fc-1", signature="c2ln"), finish=None),
            answer(call_part("get_weather", {"city": "Rome"}, id="fc-2"), tokens=usage(30, 12)),
        ),
        piece_size=9,
    )
    stream = await client.chat.completions.create(
        model="gemini/gemini-3.8-flash",
        messages=[{"role": "user", "content": "Weather in Oslo and Rome?"}],
        tools=[WEATHER],
        stream=True,
        stream_options={"include_usage": True},
    )
    calls: dict[int, dict[str, str]] = {}
    finish, usage_seen = None, None
    async for chunk in stream:
        usage_seen = chunk.usage or usage_seen
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or ():
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] = delta.id or call["id"]
                call["name"] = (delta.function.name if delta.function else None) or call["name"]
                call["arguments"] += (delta.function.arguments if delta.function else None) or ""

    assert [(c["name"], orjson.loads(c["arguments"])) for _, c in sorted(calls.items())] == [
        ("get_weather", {"city": "Oslo"}),
        ("get_weather", {"city": "Rome"}),
    ]
    assert calls[0]["id"] == "fc-1__thought__c2ln"
    assert finish == "tool_calls"
    assert (usage_seen.prompt_tokens, usage_seen.completion_tokens) == (30, 12)
    tools = fake_google.last.json["tools"]
    assert tools[0]["functionDeclarations"][0]["parametersJsonSchema"] == WEATHER["function"]["parameters"]
    prove("gemini", "llm", "streaming")
    prove("gemini", "llm", "tools")

    # The next turn echoes the call id; Gemini gets its call back, signature and all.
    await client.chat.completions.create(
        model="gemini/gemini-3.8-flash",
        messages=[
            {"role": "user", "content": "Weather in Oslo?"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": calls[0]["id"],
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": calls[0]["arguments"]},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": calls[0]["id"], "content": "sunny"},
        ],
        tools=[WEATHER],
    )
    contents = fake_google.last.json["contents"]
    assert contents[1]["parts"] == [call_part("get_weather", {"city": "Oslo"}, id="fc-1", signature="c2ln")]
    assert contents[2]["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"output": "sunny"}, "id": "fc-1"}}
    ]


async def test_image_and_json_schema(client, fake_google) -> None:
    fake_google.reply_json(answer(text_part('{"caption": "a pixel"}')))
    reply = await client.chat.completions.create(
        model="gemini/gemini-3.8-flash",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Caption this"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                ],
            }
        ],
        response_format={
            "type": "json_schema",
            "json_schema": {
                "name": "caption",
                "schema": {"type": "object", "properties": {"caption": {"type": "string"}}},
            },
        },
    )
    assert orjson.loads(reply.choices[0].message.content) == {"caption": "a pixel"}
    sent = fake_google.last.json
    assert sent["contents"][0]["parts"][1] == {"inlineData": {"mimeType": "image/png", "data": PNG}}
    assert sent["generationConfig"]["responseMimeType"] == "application/json"
    assert sent["generationConfig"]["responseJsonSchema"]["properties"] == {"caption": {"type": "string"}}
    prove("gemini", "llm", "vision")
    prove("gemini", "llm", "structured-output")


async def test_embeddings(client, fake_google) -> None:
    vectors = await client.embeddings.create(model="gemini/gemini-embedding-001", input=["a", "b"], dimensions=8)
    assert [len(item.embedding) for item in vectors.data] == [8, 8]
    assert fake_google.last.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    prove("gemini", "text-embedding", "invoke")


async def test_a_refused_key_is_an_upstream_error_in_openai_shape(client, fake_google) -> None:
    fake_google.api_key = "AIza-not-the-stored-one"
    with pytest.raises(openai.APIStatusError) as caught:
        await client.chat.completions.create(
            model="gemini/gemini-2.5-flash", messages=[{"role": "user", "content": "Hi"}]
        )
    assert caught.value.status_code == 502
    assert caught.value.body["code"] == "upstream_auth_error"
    assert SECRET not in str(caught.value.body)


async def test_vertex_streams_through_a_service_account_token(client, fake_google) -> None:
    stream = await client.chat.completions.create(
        model="vertex_ai/gemini-2.5-flash",
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text = [c.choices[0].delta.content or "" async for c in stream if c.choices]
    assert "".join(text) == "Hello!"
    assert len(fake_google.token_requests) == 1
    assert fake_google.last.headers["authorization"] == f"Bearer {next(iter(fake_google.issued))}"
    assert fake_google.last.path == (
        "/v1/projects/test-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:streamGenerateContent"
    )
    vectors = await client.embeddings.create(model="vertex_ai/text-embedding-005", input=["a", "b"])
    assert len(vectors.data) == 2
    assert fake_google.last.path.endswith("/models/text-embedding-005:predict")
    assert len(fake_google.token_requests) == 1  # the token is reused
    prove("vertex_ai", "llm", "streaming")
    prove("vertex_ai", "text-embedding", "invoke")
