"""The fake and our adapter held to the `openai` SDK's Responses API.

The SDK must parse everything the fake serves, streamed or not (its stream helper checks the order and identity of
every item), and for the same logical call our request must match the SDK's field for field.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from modelyard.types import ChatRequest, ImagePart, Message, ResponseFormat, TextPart, Tool, ToolCall
from modelyard.types.chat import NamedToolChoice
from tests.fakes.openai_responses import events, function_call, message, reasoning, refusal, response, usage
from tests.support import SECRET

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": None,
}
EVENT = TypeAdapter(ResponseStreamEvent)
ANSWERS = [
    response(message("Bonjour !")),
    response(reasoning("Plan.", "Check."), function_call("call_1", "get_weather", '{"city":"Oslo"}')),
    response(refusal("I can't help with that.")),
    response(message("Trunc"), status="incomplete", incomplete="max_output_tokens"),
    response(message("Hi"), tokens=usage(20, 7, cached=8, reasoning=4)),
]


@pytest.fixture
async def sdk(fake) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=f"{fake.url}/v1", api_key=SECRET, max_retries=0)
    try:
        yield client
    finally:
        await client.close()


# --- the fake, as the SDK reads it ---------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ANSWERS)
def test_every_answer_the_fake_builds_is_a_valid_response(answer) -> None:
    Response.model_validate(answer)  # strict where the SDK's own parsing is lenient
    for event in events(answer):
        EVENT.validate_python(event)


@pytest.mark.parametrize("answer", ANSWERS)
async def test_the_sdk_parses_what_the_fake_answers(sdk, fake, answer) -> None:
    fake.reply_response(answer)
    parsed = await sdk.responses.create(model="gpt-5.5-pro", input="Hi")
    assert parsed.model_dump(exclude_unset=True) == Response.model_validate(answer).model_dump(exclude_unset=True)


@pytest.mark.parametrize("answer", ANSWERS)
async def test_the_sdk_stream_helper_accumulates_what_the_fake_streams(sdk, fake, answer) -> None:
    fake.stream_response(answer, piece_size=17)
    async with sdk.responses.stream(model="gpt-5.5-pro", input="Hi") as stream:
        seen = [event.type async for event in stream]
        if answer["status"] == "completed":  # the helper keeps a final response from response.completed only
            final = await stream.get_final_response()
            assert final.output_text == Response.model_validate(answer).output_text
    assert (seen[0], seen[-1]) == ("response.created", f"response.{answer['status']}")


async def test_the_default_answer_calls_the_first_tool_offered(sdk) -> None:
    parsed = await sdk.responses.create(model="gpt-5.5-pro", input="Weather?", tools=[WEATHER])
    assert [(item.type, item.name) for item in parsed.output] == [("function_call", "get_weather")]


# --- same logical call, same request -------------------------------------------------------------------------------


def assert_same_request(fake) -> None:
    ours, theirs = fake.requests[-1], fake.requests[-2]
    assert ours.path == theirs.path
    assert ours.json == theirs.json
    assert ours.headers["authorization"] == theirs.headers["authorization"]


async def test_plain_request_matches_the_sdk(sdk, runtime, fake, credentials) -> None:
    await sdk.responses.create(
        model="gpt-5.5-pro",
        instructions="Be brief.",
        input=[{"role": "user", "content": "Hi"}],
        store=False,
        max_output_tokens=100,
        reasoning={"effort": "high", "summary": "auto"},
        safety_identifier="u-1",
    )
    await runtime.chat(
        provider="openai",
        model="gpt-5.5-pro",
        credentials=credentials,
        messages=[Message.system("Be brief."), Message.user("Hi")],
        max_tokens=100,
        reasoning_effort="high",
        user="u-1",
    )
    assert_same_request(fake)


async def test_streamed_tool_request_matches_the_sdk(sdk, runtime, fake, credentials) -> None:
    fake.stream_response(response(message("x")))
    async with sdk.responses.stream(
        model="gpt-4.1",  # a model that takes temperature and top_p (the runtime drops them for reasoning models)
        input=[{"role": "user", "content": "Weather in Oslo?"}],
        store=False,
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
        parallel_tool_calls=False,
        temperature=0.2,
        top_p=0.9,
    ) as stream:
        await stream.get_final_response()
    fake.stream_response(response(message("x")))
    tool = Tool("get_weather", "Weather for a city", WEATHER["parameters"])
    request = ChatRequest(
        messages=(Message.user("Weather in Oslo?"),),
        tools=(tool,),
        tool_choice=NamedToolChoice("get_weather"),
        parallel_tool_calls=False,
        temperature=0.2,
        top_p=0.9,
    )
    streamed = await runtime.chat(
        provider="openai", model="gpt-4.1", credentials=credentials, request=request, stream=True
    )
    assert (await streamed.collect()).content == "x"
    assert_same_request(fake)


async def test_tool_result_turn_with_an_image_and_json_schema_matches_the_sdk(sdk, runtime, fake, credentials) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    pixel = "data:image/png;base64,iVBORw0KGgo="
    await sdk.responses.create(
        model="gpt-4.1",
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Where is this?"},
                    {"type": "input_image", "image_url": pixel, "detail": "high"},
                ],
            },
            {"role": "assistant", "content": "Let me look."},
            {"type": "function_call", "call_id": "call_9", "name": "get_weather", "arguments": '{"city":"Oslo"}'},
            {"type": "function_call_output", "call_id": "call_9", "output": "-3C"},
        ],
        store=False,
        text={"format": {"type": "json_schema", "name": "place", "schema": schema, "strict": True}},
    )
    messages = (
        Message.user([TextPart("Where is this?"), ImagePart(pixel, "high")]),
        Message.assistant("Let me look.", [ToolCall("call_9", "get_weather", '{"city":"Oslo"}')]),
        Message.tool("call_9", "-3C"),
    )
    request = ChatRequest(messages=messages, response_format=ResponseFormat("json_schema", "place", schema, True))
    await runtime.chat(provider="openai", model="gpt-4.1", credentials=credentials, request=request)
    assert_same_request(fake)


async def test_azure_deployment_request_matches_the_sdk_on_azures_v1_api(runtime, fake) -> None:
    client = openai.AsyncOpenAI(base_url=f"{fake.url}/openai/v1", api_key=SECRET, max_retries=0)
    try:
        await client.responses.create(model="my-pro", input=[{"role": "user", "content": "Hi"}], store=False)
    finally:
        await client.close()
    values = {"openai_api_base": fake.url, "openai_api_key": SECRET, "base_model_name": "gpt-4.1"}
    values |= {"openai_api_version": "2024-10-21", "api_protocol": "responses"}
    await runtime.chat(provider="azure_openai", model="my-pro", credentials=values, messages=[Message.user("Hi")])
    ours, theirs = fake.requests[-1], fake.requests[-2]
    assert (
        (ours.path, ours.json, ours.query)
        == (theirs.path, theirs.json, theirs.query)
        == (
            "/openai/v1/responses",
            theirs.json,
            {},
        )
    )
    assert ours.headers["api-key"] == SECRET


async def test_verbosity_service_tier_and_a_reasoning_summary_match_the_sdk_on_the_responses_api(
    sdk, runtime, fake, credentials
) -> None:
    await sdk.responses.create(
        model="gpt-5.5",
        input=[{"role": "user", "content": "Hi"}],
        store=False,
        reasoning={"effort": "low", "summary": "detailed"},
        text={"verbosity": "low"},
        service_tier="flex",
    )
    result = await runtime.chat(
        provider="openai",
        model="gpt-5.5",
        credentials=credentials,
        messages=[Message.user("Hi")],
        reasoning_effort="low",
        extra={"verbosity": "low", "service_tier": "flex", "reasoning_summary": "detailed"},
    )
    assert_same_request(fake)
    assert result.adjusted_params == ()
