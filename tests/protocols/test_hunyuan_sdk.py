"""The Tencent fake and our Hunyuan adapter held to tencentcloud-sdk-python 3.1 (hunyuan v20230901).

The SDK, pointed at the fake over http, must parse every answer the fake serves (JSON, SSE, errors) and have its
own TC3 signature accepted by the fake's checker; for the same logical call, our request body must equal the
SDK's, field for field, under the same X-TC-Action and X-TC-Version.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.hunyuan.v20230901 import hunyuan_client, models

from modelyard.types import Tool
from tests.fakes.loopback import served
from tests.fakes.tencent import FakeTencent

SECRET_ID = "AKIDhunyuansdk0001"  # an id, not a secret: the SDK logs its requests at DEBUG
SECRET_KEY = "hunyuan-sdk-secret-key-0001"
NATIVE = {"endpoint": "https://hunyuan.tencentcloudapi.com", "secret_id": SECRET_ID, "secret_key": SECRET_KEY}
WEATHER_PARAMETERS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@pytest.fixture
async def fake() -> AsyncIterator[FakeTencent]:
    async with served(FakeTencent(keys={SECRET_ID: SECRET_KEY})) as upstream:
        yield upstream


@pytest.fixture
def sdk(fake) -> hunyuan_client.HunyuanClient:
    profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=urlsplit(fake.url).netloc))
    return hunyuan_client.HunyuanClient(credential.Credential(SECRET_ID, SECRET_KEY), "", profile)


def chat_request(**fields) -> models.ChatCompletionsRequest:
    request = models.ChatCompletionsRequest()
    request.from_json_string(json.dumps(fields))
    return request


def parsed_tools(body: dict) -> dict:
    """The body with each tool's Parameters string parsed: the SDK's json.dumps spacing is not ours (orjson)."""
    tools = [
        {**tool, "Function": {**tool["Function"], "Parameters": json.loads(tool["Function"]["Parameters"])}}
        for tool in body.get("Tools") or ()
    ]
    return {**body, "Tools": tools} if tools else body


def assert_same_call(fake: FakeTencent) -> None:
    ours, theirs = fake.requests[-1], fake.requests[-2]
    assert parsed_tools(ours.json) == parsed_tools(theirs.json)
    for header in ("x-tc-action", "x-tc-version", "content-type"):
        assert ours.headers[header] == theirs.headers[header], header
    assert [ok for _, _, ok in fake.signatures[-2:]] == [True, True]


async def test_sdk_parses_the_fake_answer_and_its_signature_passes(fake, sdk) -> None:
    request = chat_request(Model="hunyuan-turbos-latest", Messages=[{"Role": "user", "Content": "Hi"}])
    answer = await asyncio.to_thread(sdk.ChatCompletions, request)
    assert answer.Choices[0].Message.Content == "Hello!"
    assert answer.Choices[0].FinishReason == "stop"
    assert (answer.Usage.PromptTokens, answer.Usage.CompletionTokens) == (9, 3)
    assert fake.signatures[-1] == (SECRET_ID, "hunyuan", True)


async def test_sdk_parses_the_fake_tool_call(fake, sdk) -> None:
    tool = {"Type": "function", "Function": {"Name": "get_weather", "Parameters": json.dumps(WEATHER_PARAMETERS)}}
    request = chat_request(Model="hunyuan-functioncall", Messages=[{"Role": "user", "Content": "Oslo?"}], Tools=[tool])
    answer = await asyncio.to_thread(sdk.ChatCompletions, request)
    call = answer.Choices[0].Message.ToolCalls[0]
    assert (call.Id, call.Function.Name, call.Function.Arguments) == ("call_1", "get_weather", '{"q": "x"}')


async def test_sdk_reads_the_fake_stream(fake, sdk) -> None:
    request = chat_request(Model="hunyuan-lite", Messages=[{"Role": "user", "Content": "Hi"}], Stream=True)

    def read_all() -> list[dict]:
        return [json.loads(event["data"]) for event in sdk.ChatCompletions(request)]

    events = await asyncio.to_thread(read_all)
    assert "".join(e["Choices"][0]["Delta"]["Content"] for e in events) == "Hello!"
    assert events[-1]["Choices"][0]["FinishReason"] == "stop"
    assert events[-1]["Usage"]["CompletionTokens"] == 2


async def test_sdk_raises_the_fake_error_with_its_code(fake, sdk) -> None:
    fake.fail_cloud("LimitExceeded", "too many concurrent calls")
    request = chat_request(Model="hunyuan-lite", Messages=[{"Role": "user", "Content": "Hi"}])
    with pytest.raises(TencentCloudSDKException) as caught:
        await asyncio.to_thread(sdk.ChatCompletions, request)
    assert caught.value.get_code() == "LimitExceeded"
    assert caught.value.get_request_id() == "req-fake-0001"


async def test_sdk_signature_with_a_wrong_key_is_refused_by_the_fake(fake) -> None:
    profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=urlsplit(fake.url).netloc))
    client = hunyuan_client.HunyuanClient(credential.Credential(SECRET_ID, "wrong-key"), "", profile)
    request = chat_request(Model="hunyuan-lite", Messages=[{"Role": "user", "Content": "Hi"}])
    with pytest.raises(TencentCloudSDKException) as caught:
        await asyncio.to_thread(client.ChatCompletions, request)
    assert caught.value.get_code() == "AuthFailure.SignatureFailure"


async def test_our_chat_request_equals_the_sdks(fake, sdk, runtime) -> None:
    tool = {
        "Type": "function",
        "Function": {
            "Name": "get_weather",
            "Description": "Weather for a city",
            "Parameters": json.dumps(WEATHER_PARAMETERS),
        },
    }
    request = chat_request(
        Model="hunyuan-turbos-latest",
        Messages=[
            {"Role": "system", "Content": "Be brief."},
            {"Role": "user", "Content": "Weather in Oslo?"},
            {
                "Role": "assistant",
                "Content": "",
                "ToolCalls": [
                    {
                        "Id": "call_1",
                        "Type": "function",
                        "Function": {"Name": "get_weather", "Arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
            {"Role": "tool", "Content": "Sunny", "ToolCallId": "call_1"},
        ],
        Stream=False,
        Temperature=0.5,
        TopP=0.9,
        Tools=[tool],
        ToolChoice="auto",
        Stop=["END"],
        Seed=7,
    )
    await asyncio.to_thread(sdk.ChatCompletions, request)
    await runtime.chat(
        provider="hunyuan",
        model="hunyuan-turbos-latest",
        credentials=NATIVE,
        base_url=fake.url,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Oslo?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"},
        ],
        temperature=0.5,
        top_p=0.9,
        tools=[Tool("get_weather", "Weather for a city", WEATHER_PARAMETERS)],
        tool_choice="auto",
        stop=["END"],
        seed=7,
    )
    assert_same_call(fake)


async def test_our_vision_request_equals_the_sdks(fake, sdk, runtime) -> None:
    contents = [
        {"Type": "text", "Text": "What is this?"},
        {"Type": "image_url", "ImageUrl": {"Url": "https://img.test/cat.png"}},
    ]
    request = chat_request(Model="hunyuan-vision", Messages=[{"Role": "user", "Contents": contents}], Stream=True)
    await asyncio.to_thread(lambda: list(sdk.ChatCompletions(request)))
    stream = await runtime.chat(
        provider="hunyuan",
        model="hunyuan-vision",
        credentials=NATIVE,
        base_url=fake.url,
        stream=True,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "https://img.test/cat.png"}},
                ],
            }
        ],
    )
    assert (await stream.collect()).content == "Hello!"
    assert_same_call(fake)


async def test_our_embedding_request_equals_the_sdks_and_the_sdk_parses_the_answer(fake, sdk, runtime) -> None:
    request = models.GetEmbeddingRequest()
    request.InputList = ["a", "b"]
    answer = await asyncio.to_thread(sdk.GetEmbedding, request)
    assert [item.Index for item in answer.Data] == [0, 1]
    assert answer.Usage.PromptTokens == 2
    await runtime.embed(
        provider="hunyuan", model="hunyuan-embedding", credentials=NATIVE, texts=["a", "b"], base_url=fake.url
    )
    assert_same_call(fake)
