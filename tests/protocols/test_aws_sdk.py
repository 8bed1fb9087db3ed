"""The AWS fakes and our adapters held to boto3 (botocore 1.44.8).

boto3 clients point at the fake with `endpoint_url`: botocore's own parsers must read the fake's JSON, its
event streams and its errors, so the fake cannot drift from the real wire. For the same logical call our request
must equal boto3's (path, headers, body bytes) and, with the clock and the credentials fixed, carry the same
signature. The fake checks every signature the way AWS does, from what arrived.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any
from unittest.mock import patch
from urllib.parse import unquote

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from modelyard.errors import UpstreamBadRequestError, UpstreamRateLimitError, UpstreamUnavailableError
from modelyard.signing import SIGNING_SCHEMES
from modelyard.types import ChatRequest, EmbeddingRequest, Message, RerankRequest, Tool, ToolCall
from modelyard.types.chat import ImagePart, ResponseFormat, TextPart
from tests.capabilities import prove
from tests.fakes.aws import FakeAWS, converse_text_events, metadata_event, payload_parts
from tests.fakes.loopback import served

NOW = datetime.datetime(2026, 11, 28, 9, 30, 15, tzinfo=datetime.UTC)
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//session+token="
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
WEATHER = Tool("get_weather", "Weather for a city", {"type": "object", "properties": {"city": {"type": "string"}}})
WEATHER_SPEC = {
    "toolSpec": {
        "name": "get_weather",
        "description": "Weather for a city",
        "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}},
    }
}
# Catalog ids, called through their default inference profile (`global.`); no `:` in Opus's id, so the whole
# request, signature included, equals boto3's.
OPUS, OPUS_WIRE = "anthropic.claude-opus-4-8", "global.anthropic.claude-opus-4-8"
NOVA, NOVA_WIRE = "amazon.nova-2-lite-v1:0", "global.amazon.nova-2-lite-v1:0"


@pytest.fixture
async def fake_aws() -> AsyncIterator[FakeAWS]:
    async with served(FakeAWS(keys={ACCESS_KEY: SECRET_KEY})) as fake:
        yield fake


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(SIGNING_SCHEMES["sigv4"], "clock", NOW.timestamp)
    with patch("botocore.auth.get_current_datetime", lambda: NOW.replace(tzinfo=None)):
        yield


def client(service: str, fake: FakeAWS, region: str = "us-east-1") -> Any:
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=fake.url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        aws_session_token=TOKEN,
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture
def bedrock_sdk(fake_aws: FakeAWS) -> Iterator[Any]:
    sdk = client("bedrock-runtime", fake_aws)
    yield sdk
    sdk.close()  # else its pooled sockets outlive the fake and warn, unraisably, in some later test


@pytest.fixture
def bedrock(fake_aws: FakeAWS) -> dict[str, str]:
    return {
        "aws_access_key_id": ACCESS_KEY,
        "aws_secret_access_key": SECRET_KEY,
        "aws_session_token": TOKEN,
        "aws_region": "us-east-1",
        "endpoint_url": fake_aws.url,
    }


def assert_same_request(fake: FakeAWS, *, same_signature: bool = True) -> None:
    theirs, ours = fake.requests[-2], fake.requests[-1]
    assert unquote(ours.path) == unquote(theirs.path)
    assert ours.body == theirs.body  # byte for byte: botocore's serialization
    for header in ("content-type", "x-amz-date", "x-amz-security-token"):
        assert ours.headers.get(header) == theirs.headers.get(header), header
    assert ours.headers.get("accept") == theirs.headers.get("accept", "*/*")  # aiohttp's default, unsigned
    if same_signature:
        assert ours.headers["authorization"] == theirs.headers["authorization"]
    assert all(signature.ok for signature in fake.signatures[-2:])


# --- Bedrock: same logical call, same request -------------------------------------------------------------------


async def test_converse_request_and_signature_equal_boto3s(bedrock_sdk, runtime, fake_aws, bedrock) -> None:
    answer = await asyncio.to_thread(
        bedrock_sdk.converse,
        modelId=OPUS_WIRE,
        messages=[{"role": "user", "content": [{"text": "Hi"}]}],
        system=[{"text": "Be brief."}],
        inferenceConfig={"maxTokens": 100, "stopSequences": ["END"]},
    )
    assert answer["output"]["message"]["content"] == [{"text": "Hello!"}]  # botocore read the fake's answer

    ours = await runtime.chat(
        provider="bedrock",
        model=OPUS,
        credentials=bedrock,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        max_tokens=100,
        stop=["END"],
    )

    assert ours.content == "Hello!"
    assert fake_aws.requests[-1].path == f"/model/{OPUS_WIRE}/converse"
    assert_same_request(fake_aws)


async def test_a_model_id_with_a_colon_is_sent_as_aiohttp_sends_it_and_still_verifies(
    bedrock_sdk, runtime, fake_aws, bedrock
) -> None:
    await asyncio.to_thread(
        bedrock_sdk.converse, modelId=NOVA_WIRE, messages=[{"role": "user", "content": [{"text": "Hi"}]}]
    )
    await runtime.chat(
        provider="bedrock", model=NOVA, credentials=bedrock, messages=[{"role": "user", "content": "Hi"}]
    )

    theirs, ours = fake_aws.requests[-2], fake_aws.requests[-1]
    assert fake_aws.signatures[-2].ok and fake_aws.signatures[-1].ok
    # botocore sends `%3A` and signs `%253A`; aiohttp re-quotes `%3A` to `:`, so we sign `%3A` for what goes out.
    assert (theirs.headers["host"], unquote(theirs.path)) == (ours.headers["host"], unquote(ours.path))
    assert_same_request(fake_aws, same_signature=False)


async def test_streamed_tool_chat_with_an_image_equals_boto3s_request(bedrock_sdk, runtime, fake_aws, bedrock) -> None:
    content = [
        {"text": "Weather where this was taken?"},
        {"image": {"format": "png", "source": {"bytes": base64.b64decode(PIXEL)}}},
    ]
    response = await asyncio.to_thread(
        bedrock_sdk.converse_stream,
        modelId=OPUS_WIRE,
        messages=[{"role": "user", "content": content}],
        toolConfig={"tools": [WEATHER_SPEC], "toolChoice": {"auto": {}}},
    )
    events = await asyncio.to_thread(lambda: list(response["stream"]))
    assert events[1]["contentBlockStart"]["start"]["toolUse"]["name"] == "get_weather"  # botocore read our framing

    request = ChatRequest(
        messages=(
            Message.user([TextPart("Weather where this was taken?"), ImagePart(f"data:image/png;base64,{PIXEL}")]),
        ),
        tools=(WEATHER,),
        tool_choice="auto",
    )
    target = runtime.target("bedrock", OPUS, "llm", bedrock)
    result = await (await runtime.invoke_chat(target, request, stream=True)).collect()

    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [("tooluse_1", "get_weather", '{"q": "x"}')]
    assert result.finish_reason == "tool_calls"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (9, 3)
    assert_same_request(fake_aws)
    prove("bedrock", "llm", "streaming")
    prove("bedrock", "llm", "tools")
    prove("bedrock", "llm", "vision")


async def test_tool_result_turn_equals_boto3s_request(bedrock_sdk, runtime, fake_aws, bedrock) -> None:
    wire = [
        {"role": "user", "content": [{"text": "Weather in Oslo?"}]},
        {
            "role": "assistant",
            "content": [{"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"city": "Oslo"}}}],
        },
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "-3C"}]}}]},
    ]
    tools = {"tools": [WEATHER_SPEC]}
    await asyncio.to_thread(bedrock_sdk.converse, modelId=OPUS_WIRE, messages=wire, toolConfig=tools)
    messages = (
        Message.user("Weather in Oslo?"),
        Message.assistant("", [ToolCall("t1", "get_weather", '{"city": "Oslo"}')]),
        Message.tool("t1", "-3C"),
    )
    target = runtime.target("bedrock", OPUS, "llm", bedrock)
    await runtime.invoke_chat(target, ChatRequest(messages=messages, tools=(WEATHER,)), stream=False)
    assert_same_request(fake_aws)


async def test_json_schema_output_equals_boto3s_request(bedrock_sdk, runtime, fake_aws, bedrock) -> None:
    schema = {"type": "object", "properties": {"caption": {"type": "string"}}, "required": ["caption"]}
    await asyncio.to_thread(
        bedrock_sdk.converse,
        modelId=OPUS_WIRE,
        messages=[{"role": "user", "content": [{"text": "Caption"}]}],
        outputConfig={
            "textFormat": {
                "type": "json_schema",
                "structure": {"jsonSchema": {"schema": json.dumps(schema), "name": "caption"}},
            }
        },
    )
    request = ChatRequest(
        messages=(Message.user("Caption"),), response_format=ResponseFormat("json_schema", "caption", schema)
    )
    await runtime.invoke_chat(runtime.target("bedrock", OPUS, "llm", bedrock), request, stream=False)
    assert_same_request(fake_aws)
    prove("bedrock", "llm", "structured-output")


@pytest.mark.parametrize(
    ("model", "native", "request_"),
    [
        ("amazon.titan-embed-text-v1", {"inputText": "hello"}, EmbeddingRequest(("hello",))),
        (
            "amazon.titan-embed-text-v2:0",
            {"inputText": "hello", "dimensions": 256, "normalize": True},
            EmbeddingRequest(("hello",), dimensions=256),
        ),
        (
            "cohere.embed-english-v3",
            {"texts": ["a", "b"], "input_type": "search_query", "embedding_types": ["float"]},
            EmbeddingRequest(("a", "b"), input_type="query"),
        ),
    ],
)
async def test_invoke_model_embedding_bodies_equal_what_boto3_users_send(
    bedrock_sdk, runtime, fake_aws, bedrock, model, native, request_
) -> None:
    answer = await asyncio.to_thread(
        bedrock_sdk.invoke_model,
        modelId=model,
        body=json.dumps(native),
        contentType="application/json",
        accept="application/json",
    )
    parsed = json.loads(answer["body"].read())

    ours = await runtime.invoke_embeddings(runtime.target("bedrock", model, "text-embedding", bedrock), request_)

    assert len(ours.vectors) == len(request_.texts)
    assert ours.vectors[0] == (parsed.get("embedding") or parsed["embeddings"]["float"][0])
    assert_same_request(fake_aws, same_signature=":" not in model)
    prove("bedrock", "text-embedding", "invoke")


# --- Bedrock: errors, as botocore and as we read them ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (400, "ValidationException", UpstreamBadRequestError),
        (429, "ThrottlingException", UpstreamRateLimitError),
        (424, "ModelErrorException", UpstreamUnavailableError),
        (503, "ServiceUnavailableException", UpstreamUnavailableError),
    ],
)
async def test_errors_read_the_same_by_botocore_and_by_us(
    bedrock_sdk, runtime, fake_aws, bedrock, status, code, error
) -> None:
    fake_aws.fail(status, code, "nope")
    with pytest.raises(botocore.exceptions.ClientError) as sdk_error:
        await asyncio.to_thread(
            bedrock_sdk.converse, modelId=OPUS_WIRE, messages=[{"role": "user", "content": [{"text": "x"}]}]
        )
    assert sdk_error.value.response["Error"]["Code"] == code

    fake_aws.fail(status, code, "nope")
    with pytest.raises(error) as ours:
        await runtime.chat(
            provider="bedrock", model=OPUS, credentials=bedrock, messages=[{"role": "user", "content": "x"}]
        )
    assert ours.value.vendor_code == code


async def test_an_exception_inside_the_stream_reaches_both_after_the_text(
    bedrock_sdk, runtime, fake_aws, bedrock
) -> None:
    events = converse_text_events("Hel", "lo")[:3]
    fake_aws.stream_events(events, exception=("throttlingException", "slow down"))
    response = await asyncio.to_thread(
        bedrock_sdk.converse_stream, modelId=OPUS_WIRE, messages=[{"role": "user", "content": [{"text": "x"}]}]
    )
    with pytest.raises(botocore.exceptions.EventStreamError, match="throttlingException"):
        await asyncio.to_thread(lambda: list(response["stream"]))
    response["stream"].close()  # a stream botocore stopped reading keeps its connection until closed

    fake_aws.stream_events(events, exception=("throttlingException", "slow down"), piece_size=7)
    stream = await runtime.chat(
        provider="bedrock", model=OPUS, credentials=bedrock, messages=[{"role": "user", "content": "x"}], stream=True
    )
    seen = []
    with pytest.raises(UpstreamRateLimitError, match="slow down"):
        async for chunk in stream:
            seen.append(chunk.content)
    assert "".join(seen) == "Hello"


async def test_a_stream_cut_into_tiny_pieces_reads_whole(runtime, fake_aws, bedrock) -> None:
    events = [*converse_text_events("Bon", "jour")[:-1], metadata_event(4, 2)]
    fake_aws.stream_events(events, piece_size=3)
    stream = await runtime.chat(
        provider="bedrock", model=NOVA, credentials=bedrock, messages=[{"role": "user", "content": "x"}], stream=True
    )
    result = await stream.collect()
    assert (result.content, result.finish_reason) == ("Bonjour", "stop")
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.is_estimated) == (4, 2, False)
    assert result.usage.total_price > 0  # priced from the catalog


async def test_a_bad_secret_gets_the_invalid_signature_error_aws_gives(runtime, fake_aws, bedrock) -> None:
    from modelyard.errors import UpstreamAuthError

    with pytest.raises(UpstreamAuthError, match="InvalidSignatureException"):
        await runtime.chat(
            provider="bedrock",
            model=OPUS,
            credentials={**bedrock, "aws_secret_access_key": "wrong"},
            messages=[{"role": "user", "content": "x"}],
        )
    assert fake_aws.signatures[-1].ok is False


# --- SageMaker ---------------------------------------------------------------------------------------------------


def sagemaker_values(fake: FakeAWS, payload_format: str = "openai") -> dict[str, str]:
    return {
        "endpoint_name": "my-endpoint",
        "payload_format": payload_format,
        "aws_access_key_id": ACCESS_KEY,
        "aws_secret_access_key": SECRET_KEY,
        "aws_session_token": TOKEN,
        "aws_region": "eu-west-1",
        "endpoint_url": fake.url,
        "function_calling_type": "tool_call",
    }


@pytest.fixture
def sagemaker_sdk(fake_aws: FakeAWS) -> Iterator[Any]:
    sdk = client("sagemaker-runtime", fake_aws, "eu-west-1")
    yield sdk
    sdk.close()


@pytest.mark.parametrize("payload_format", ["openai", "huggingface"])
async def test_invoke_endpoint_request_and_signature_equal_boto3s(
    sagemaker_sdk, runtime, fake_aws, payload_format
) -> None:
    target = runtime.target("sagemaker", "my-model", "llm", sagemaker_values(fake_aws, payload_format))
    result = await runtime.invoke_chat(target, ChatRequest(messages=(Message.user("Hi"),), max_tokens=50), stream=False)
    assert result.content == "Hello!"
    ours = fake_aws.requests.pop()
    answer = await asyncio.to_thread(
        sagemaker_sdk.invoke_endpoint,
        EndpointName="my-endpoint",
        Body=ours.body,
        ContentType="application/json",
        Accept="application/json",
    )
    assert json.loads(answer["Body"].read())  # botocore read the fake's answer
    fake_aws.requests.append(ours)
    assert ours.path == "/endpoints/my-endpoint/invocations"
    assert_same_request(fake_aws)
    prove("sagemaker", "llm", "invoke")


@pytest.mark.parametrize("payload_format", ["openai", "huggingface"])
async def test_response_stream_payload_parts_read_the_same_by_botocore_and_by_us(
    sagemaker_sdk, runtime, fake_aws, payload_format
) -> None:
    target = runtime.target("sagemaker", "my-model", "llm", sagemaker_values(fake_aws, payload_format))
    stream = await runtime.invoke_chat(target, ChatRequest(messages=(Message.user("Hi"),)), stream=True)
    result = await stream.collect()
    assert (result.content, result.finish_reason) == ("Hello!", "stop")
    assert result.usage.is_estimated is False
    ours = fake_aws.requests.pop()
    assert ours.path == "/endpoints/my-endpoint/invocations-response-stream"
    assert json.loads(ours.body)["stream"] is True

    response = await asyncio.to_thread(
        sagemaker_sdk.invoke_endpoint_with_response_stream,
        EndpointName="my-endpoint",
        Body=ours.body,
        ContentType="application/json",
    )
    parts = await asyncio.to_thread(lambda: [event["PayloadPart"]["Bytes"] for event in response["Body"]])
    assert len(parts) > 2 and b"".join(parts).count(b"data:") >= 2  # botocore read the PayloadPart framing
    fake_aws.requests.append(ours)
    assert_same_request(fake_aws)
    prove("sagemaker", "llm", "streaming")


async def test_a_model_stream_error_inside_the_payload_stream_reaches_both(sagemaker_sdk, runtime, fake_aws) -> None:
    from tests.fakes.eventstream import encode_message

    failure = encode_message(
        {":exception-type": "ModelStreamError", ":content-type": "application/json", ":message-type": "exception"},
        b'{"Message":"the container stopped","ErrorCode":"StreamBroken"}',
    )
    body = payload_parts(b'data:{"token":{"text":"Hi","special":false},"details":null}\n\n', 9) + failure
    fake_aws.stream_bytes(body)
    response = await asyncio.to_thread(
        sagemaker_sdk.invoke_endpoint_with_response_stream, EndpointName="e", Body=b"{}", ContentType="application/json"
    )
    with pytest.raises(botocore.exceptions.EventStreamError, match="ModelStreamError"):
        await asyncio.to_thread(lambda: list(response["Body"]))
    response["Body"].close()  # a stream botocore stopped reading keeps its connection until closed

    fake_aws.stream_bytes(body)
    target = runtime.target("sagemaker", "m", "llm", sagemaker_values(fake_aws, "huggingface"))
    stream = await runtime.invoke_chat(target, ChatRequest.user_text("x"), stream=True)
    with pytest.raises(UpstreamUnavailableError, match="StreamBroken: the container stopped"):
        await stream.collect()


async def test_a_model_error_carries_what_the_container_said(sagemaker_sdk, runtime, fake_aws) -> None:
    fake_aws.fail(
        424,
        "ModelError",
        "Received client error (400) from primary",
        OriginalStatusCode=400,
        OriginalMessage="bad input",
    )
    with pytest.raises(botocore.exceptions.ClientError) as sdk_error:
        await asyncio.to_thread(
            sagemaker_sdk.invoke_endpoint, EndpointName="e", Body=b"{}", ContentType="application/json"
        )
    assert sdk_error.value.response["Error"]["Code"] == "ModelError"

    fake_aws.fail(
        424,
        "ModelError",
        "Received client error (400) from primary",
        OriginalStatusCode=400,
        OriginalMessage="bad input",
    )
    target = runtime.target("sagemaker", "m", "llm", sagemaker_values(fake_aws))
    with pytest.raises(UpstreamUnavailableError, match="the container said: bad input"):
        await runtime.invoke_chat(target, ChatRequest.user_text("x"), stream=False)


@pytest.mark.parametrize("payload_format", ["openai", "huggingface"])
async def test_embeddings_and_rerank_on_an_endpoint(runtime, fake_aws, payload_format) -> None:
    values = sagemaker_values(fake_aws, payload_format)
    embedded = await runtime.invoke_embeddings(
        runtime.target("sagemaker", "e", "text-embedding", values), EmbeddingRequest(("a", "b"))
    )
    assert len(embedded.vectors) == 2
    assert fake_aws.signatures[-1].service == "sagemaker"
    ranked = await runtime.invoke_rerank(
        runtime.target("sagemaker", "r", "rerank", values), RerankRequest("q", ("a", "b", "c"), top_n=2)
    )
    assert [hit.index for hit in ranked.hits] == [0, 1]
    prove("sagemaker", "text-embedding", "invoke")
    prove("sagemaker", "rerank", "invoke")
