"""POST /v1/responses, GET and DELETE /v1/responses/{id}: the official `openai` SDK, pointed at the gateway's socket,
works unchanged over models of three families (an OpenAI-wire provider, Anthropic, Gemini) and over OpenAI's own
Responses API; stored responses continue conversations and stay inside their workspace."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import openai
import orjson
import pytest

from modelyard.gateway.app import Gateway
from modelyard.gateway.metrics import Metrics
from modelyard.protocols.sse import SSEDecoder
from tests.capabilities import prove
from tests.fakes import anthropic as anthropic_wire
from tests.fakes import gemini as gemini_wire
from tests.fakes import openai_responses as responses_wire
from tests.fakes.openai import chat_chunk, sse, tool_call, usage_chunk
from tests.fakes.registry import FAKES, serving
from tests.support import SECRET, eventually, serve

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": True,
}
PLACE = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}


@pytest.fixture
async def client(gateway) -> AsyncIterator[openai.AsyncOpenAI]:
    sdk = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.api_key, max_retries=0)
    try:
        yield sdk
    finally:
        await sdk.close()


@pytest.fixture
async def fake_anthropic(gateway) -> AsyncIterator:
    async with serving(FAKES["anthropic"]) as upstream:
        values = {"anthropic_api_key": SECRET, "anthropic_api_url": upstream.url}
        await gateway.services.credentials.create(
            workspace_id=gateway.workspace_id, provider="anthropic", values=values, validate=False
        )
        yield upstream


@pytest.fixture
async def fake_google(gateway) -> AsyncIterator:
    async with serving(FAKES["gemini"]) as upstream:
        values = {"google_api_key": SECRET, "api_base": upstream.url}
        await gateway.services.credentials.create(
            workspace_id=gateway.workspace_id, provider="gemini", values=values, validate=False
        )
        yield upstream


@pytest.fixture
async def fake_openai_platform(gateway) -> AsyncIterator:
    """OpenAI itself upstream, its credential set to the Responses API."""
    async with serving(FAKES["openai_responses"]) as upstream:
        values = {"openai_api_key": SECRET, "openai_api_base": upstream.url, "api_protocol": "responses"}
        await gateway.services.credentials.create(
            workspace_id=gateway.workspace_id, provider="openai", values=values, validate=False
        )
        yield upstream


# --- an OpenAI-wire upstream (Chat Completions) ----------------------------------------------------------------------


async def test_plain_response_from_a_chat_completions_upstream(client, fake_openai) -> None:
    fake_openai.reply_chat("Bonjour !", usage=(12, 4))
    raw = await client.responses.with_raw_response.create(
        model="deepseek/deepseek-flash",
        instructions="Be brief.",
        input="Say hi in French",
        max_output_tokens=100,
        temperature=0.2,
        metadata={"ticket": "42"},
    )
    answer = raw.parse()
    assert answer.output_text == "Bonjour !"
    assert (answer.status, answer.model, answer.instructions, answer.metadata) == (
        "completed",
        "deepseek-flash",
        "Be brief.",
        {"ticket": "42"},
    )
    assert (answer.usage.input_tokens, answer.usage.output_tokens, answer.usage.total_tokens) == (12, 4, 16)
    assert answer.id.startswith("resp_")
    assert raw.headers["x-modelyard-provider"] == "deepseek"
    sent = fake_openai.last.json
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hi in French"},
    ]
    assert (sent["max_tokens"], sent["temperature"]) == (100, 0.2)


async def test_streamed_response_with_reasoning_summary_from_a_chat_completions_upstream(client, fake_openai) -> None:
    fake_openai.stream(
        sse(
            chat_chunk({"role": "assistant", "reasoning_content": "Greeting."}),
            chat_chunk({"content": "Hel"}),
            chat_chunk({"content": "lo"}),
            chat_chunk({}, "stop"),
            usage_chunk(5, 2),
        ),
        piece_size=11,
    )
    async with client.responses.stream(
        model="deepseek/deepseek-flash", input="Hi", reasoning={"summary": "auto"}
    ) as stream:
        deltas = [event.delta async for event in stream if event.type == "response.output_text.delta"]
        final = await stream.get_final_response()
    assert "".join(deltas) == "Hello"
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert final.output[0].summary[0].text == "Greeting."
    assert (final.usage.input_tokens, final.usage.output_tokens) == (5, 2)


async def test_tool_round_trip_through_a_chat_completions_upstream(client, fake_openai) -> None:
    fake_openai.stream(
        sse(
            chat_chunk(
                {"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "get_weather"}}]}
            ),
            chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
            chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}, "tool_calls"),
            usage_chunk(7, 5),
        )
    )
    async with client.responses.stream(
        model="deepseek/deepseek-flash", input="Weather in Paris?", tools=[WEATHER], store=False
    ) as stream:
        final = await stream.get_final_response()
    call = final.output[0]
    assert (call.type, call.call_id, call.name, call.arguments) == (
        "function_call",
        "c1",
        "get_weather",
        '{"city":"Paris"}',
    )
    assert call.parsed_arguments == {"city": "Paris"}  # the SDK parsed it against the strict tool it sent

    fake_openai.reply_chat("It is 18C.")
    answer = await client.responses.create(
        model="deepseek/deepseek-flash",
        tools=[WEATHER],
        store=False,
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            call.model_dump(include={"type", "call_id", "name", "arguments"}),
            {"type": "function_call_output", "call_id": "c1", "output": "18C"},
        ],
    )
    assert answer.output_text == "It is 18C."
    sent = fake_openai.last.json["messages"]
    assert sent[1]["tool_calls"][0] == tool_call("c1", "get_weather", '{"city":"Paris"}')
    assert sent[2] == {"role": "tool", "content": "18C", "tool_call_id": "c1"}
    assert fake_openai.last.json["tools"][0]["function"]["strict"] is True


# --- Anthropic and Gemini upstream -------------------------------------------------------------------------------


async def test_tool_round_trip_with_anthropic_continued_by_previous_response_id(client, fake_anthropic) -> None:
    fake_anthropic.reply_message(
        [anthropic_wire.text("Let me check."), anthropic_wire.tool_use("toolu_1", "get_weather", {"city": "Oslo"})],
        stop_reason="tool_use",
    )
    first = await client.responses.create(
        model="anthropic/claude-sonnet-5-5", instructions="Use metric.", input="Weather in Oslo?", tools=[WEATHER]
    )
    assert [item.type for item in first.output] == ["message", "function_call"]
    call = first.output[1]
    assert (call.call_id, call.arguments) == ("toolu_1", '{"city":"Oslo"}')

    fake_anthropic.reply_message([anthropic_wire.text("Oslo: -3C.")])
    second = await client.responses.create(
        model="anthropic/claude-sonnet-5-5",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": "toolu_1", "output": "-3C"}],
        tools=[WEATHER],
    )
    assert second.output_text == "Oslo: -3C."
    assert second.previous_response_id == first.id
    sent = fake_anthropic.last.json
    assert "system" not in sent  # instructions are not carried over from a previous response
    assert sent["messages"] == [
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "-3C"}]},
    ]
    prove("anthropic", "llm", "tools")


async def test_streamed_anthropic_answer_is_stored_and_retrieved(client, fake_anthropic) -> None:
    fake_anthropic.stream_message([anthropic_wire.thinking("Easy."), anthropic_wire.text("Four.")])
    async with client.responses.stream(
        model="anthropic/claude-sonnet-5-5", input="2+2?", reasoning={"effort": "low", "summary": "auto"}
    ) as stream:
        final = await stream.get_final_response()
    assert final.output_text == "Four."
    stored = await client.responses.retrieve(final.id)
    assert (stored.id, stored.status, stored.output_text, stored.usage) == (final.id, "completed", "Four.", final.usage)
    assert [item.id for item in stored.output] == [item.id for item in final.output]
    assert stored.output[0].summary[0].text == "Easy."


async def test_json_schema_format_with_gemini(client, fake_google) -> None:
    fake_google.reply_json(gemini_wire.answer(gemini_wire.text_part('{"city":"Oslo"}'), tokens=gemini_wire.usage(9, 4)))
    answer = await client.responses.create(
        model="gemini/gemini-2.5-flash",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "Capital of Norway?"}]}],
        text={"format": {"type": "json_schema", "name": "place", "schema": PLACE, "strict": True}},
    )
    assert orjson.loads(answer.output_text) == {"city": "Oslo"}
    config = fake_google.last.json["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert answer.text.format.type == "json_schema"


async def test_function_call_streamed_from_gemini_then_answered(client, fake_google) -> None:
    fake_google.stream(gemini_wire.sse(gemini_wire.tool_turn([gemini_wire.call_part("get_weather", {"city": "Rome"})])))
    async with client.responses.stream(model="gemini/gemini-3.8-flash", input="Weather in Rome?", tools=[WEATHER]) as s:
        first = await s.get_final_response()
    call = first.output[-1]
    assert (call.type, call.name, orjson.loads(call.arguments)) == ("function_call", "get_weather", {"city": "Rome"})
    fake_google.reply_json(gemini_wire.answer(gemini_wire.text_part("Rome: 20C.")))
    second = await client.responses.create(
        model="gemini/gemini-3.8-flash",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "20C"}],
    )
    assert second.output_text == "Rome: 20C."
    contents = fake_google.last.json["contents"]
    assert contents[1]["parts"][0]["functionCall"]["name"] == "get_weather"
    assert contents[2]["parts"][0]["functionResponse"]["name"] == "get_weather"


# --- OpenAI's own Responses API upstream, both directions ------------------------------------------------------------


async def test_openai_responses_upstream_through_the_responses_face(client, fake_openai_platform) -> None:
    fake_openai_platform.reply_response(
        responses_wire.response(
            responses_wire.reasoning("Thinking."),
            responses_wire.message("Done."),
            tokens=responses_wire.usage(30, 9, cached=10, reasoning=5),
            model="gpt-5.5-pro",
        )
    )
    answer = await client.responses.create(
        model="openai/gpt-5.5-pro", input="Prove it.", reasoning={"effort": "high", "summary": "auto"}
    )
    assert (answer.output_text, answer.output[0].summary[0].text) == ("Done.", "Thinking.")
    assert (answer.usage.input_tokens_details.cached_tokens, answer.usage.output_tokens_details.reasoning_tokens) == (
        10,
        5,
    )
    sent = fake_openai_platform.last
    assert sent.path == "/v1/responses"
    assert (sent.json["store"], sent.json["reasoning"]) == (False, {"effort": "high", "summary": "auto"})
    assert sent.json["input"] == [{"role": "user", "content": "Prove it."}]


async def test_openai_responses_upstream_through_chat_completions(gateway, fake_openai_platform) -> None:
    fake_openai_platform.stream_response(
        responses_wire.response(responses_wire.function_call("c1", "get_weather", '{"city":"Oslo"}'))
    )
    sdk = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.api_key, max_retries=0)
    try:
        stream = await sdk.chat.completions.create(
            model="openai/gpt-5.4",
            messages=[{"role": "user", "content": "Weather?"}],
            tools=[{"type": "function", "function": {"name": "get_weather", "parameters": PLACE}}],
            stream=True,
        )
        deltas = [chunk.choices[0].delta async for chunk in stream if chunk.choices]
    finally:
        await sdk.close()
    calls = [call for delta in deltas for call in delta.tool_calls or ()]
    assert calls[0].id == "c1" and calls[0].function.name == "get_weather"
    assert "".join(call.function.arguments or "" for call in calls) == '{"city":"Oslo"}'
    assert fake_openai_platform.last.json["tools"][0]["name"] == "get_weather"


# --- storage: retrieve, delete, workspaces -------------------------------------------------------------------------


async def test_a_stored_response_is_retrieved_deleted_and_then_gone(client, fake_openai) -> None:
    fake_openai.reply_chat("Kept.")
    created = await client.responses.create(model="deepseek/deepseek-flash", input="Remember this.")
    assert created.store is True  # the API's default
    assert (await client.responses.retrieve(created.id)).output_text == "Kept."
    await client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        await client.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        await client.responses.delete(created.id)
    with pytest.raises(openai.BadRequestError) as refused:
        await client.responses.create(model="deepseek/deepseek-flash", previous_response_id=created.id, input="And?")
    assert refused.value.body["param"] == "previous_response_id"


async def test_store_false_keeps_nothing(client, fake_openai) -> None:
    fake_openai.reply_chat("Forgotten.")
    created = await client.responses.create(model="deepseek/deepseek-flash", input="Hi", store=False)
    with pytest.raises(openai.NotFoundError):
        await client.responses.retrieve(created.id)


async def test_a_continuation_without_a_model_takes_the_previous_responses_model(client, fake_openai) -> None:
    fake_openai.reply_chat("One.")
    first = await client.responses.create(model="deepseek/deepseek-flash", input="Count.")
    fake_openai.reply_chat("Two.")
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{client.base_url}responses",
            json={"previous_response_id": first.id, "input": "Next."},
            headers={"Authorization": f"Bearer {client.api_key}"},
        ) as answer,
    ):
        body = await answer.json()
    assert (answer.status, body["model"]) == (200, "deepseek-flash")
    assert [m["content"] for m in fake_openai.last.json["messages"]] == ["Count.", "One.", "Next."]


async def test_another_workspaces_response_is_not_found(gateway, client, fake_openai) -> None:
    fake_openai.reply_chat("Private.")
    created = await client.responses.create(model="deepseek/deepseek-flash", input="Secret plan.")
    other = (await gateway.services.workspaces.create("Other")).id
    _, other_key = await gateway.services.api_keys.create(workspace_id=other, name="other")
    intruder = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=other_key, max_retries=0)
    try:
        with pytest.raises(openai.NotFoundError):
            await intruder.responses.retrieve(created.id)
        with pytest.raises(openai.NotFoundError):
            await intruder.responses.delete(created.id)
        with pytest.raises(openai.BadRequestError):
            await intruder.responses.create(model="default", previous_response_id=created.id, input="Tell me.")
    finally:
        await intruder.close()
    assert (await client.responses.retrieve(created.id)).output_text == "Private."


async def test_stored_responses_reach_the_database_and_hold_no_credential(gateway, client, fake_openai) -> None:
    fake_openai.reply_chat("Written.")
    created = await client.responses.create(model="deepseek/deepseek-flash", input="Persist.")
    assert await gateway.services.responses.flush()
    from sqlalchemy import select

    from modelyard.store.tables import StoredResponse

    async with gateway.services.engine.connect() as connection:
        row = (await connection.execute(select(StoredResponse).where(StoredResponse.id == created.id))).one()
    assert (row.workspace_id, row.model) == (gateway.workspace_id, "deepseek/deepseek-flash")
    assert SECRET.encode() not in row.response + row.conversation
    assert gateway.api_key.encode() not in row.response + row.conversation


# --- errors -----------------------------------------------------------------------------------------------------


async def test_an_upstream_rate_limit_is_openais_429(client, fake_openai) -> None:
    fake_openai.fail(429, "slow down", code="rate_limit_exceeded", headers={"Retry-After": "7"})
    with pytest.raises(openai.RateLimitError) as limited:
        await client.responses.create(model="deepseek/deepseek-flash", input="Hi")
    assert limited.value.response.headers["retry-after"] == "7"


async def test_a_stream_broken_upstream_ends_with_an_error_event_and_response_failed(client, fake_openai) -> None:
    body = sse(chat_chunk({"content": "Hel"}), chat_chunk({"content": "lo"}), done=False)
    fake_openai.stream(body, piece_size=len(body) // 2 + 1, drop_after=1)  # the connection drops mid-answer
    async with client.responses.stream(model="deepseek/deepseek-flash", input="Hi") as stream:
        kinds = [event.type async for event in stream]
        with pytest.raises(RuntimeError):
            await stream.get_final_response()
    assert kinds[-2:] == ["error", "response.failed"]
    assert "response.completed" not in kinds


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "deepseek/deepseek-flash", "input": "Hi", "tools": [{"type": "web_search"}]}, "tools[0]"),
        ({"model": "deepseek/deepseek-flash", "input": []}, "input"),
        ({"input": "Hi"}, "model"),
        ({"model": "deepseek/deepseek-flash", "input": "Hi", "background": True}, "background"),
    ],
)
async def test_bad_requests_are_400_naming_the_parameter(gateway, body, param) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{gateway.url}/v1/responses", json=body, headers={"Authorization": f"Bearer {gateway.api_key}"}
        ) as answer,
    ):
        error = (await answer.json())["error"]
    assert (answer.status, error["param"], error["type"]) == (400, param, "invalid_request_error")


async def test_item_routes_answer_405_and_404_and_metrics_name_the_route(gateway) -> None:
    headers = {"Authorization": f"Bearer {gateway.api_key}"}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gateway.url}/v1/responses/resp_abc", headers=headers) as wrong_method:
            assert wrong_method.status == 405
        async with session.get(f"{gateway.url}/v1/responses/not-an-id", headers=headers) as garbage:
            assert garbage.status == 404
        async with session.get(f"{gateway.url}/v1/responses/resp_missing", headers=headers) as missing:
            assert (missing.status, (await missing.json())["error"]["code"]) == (404, "not_found")
        async with session.get(f"{gateway.url}/v1/responses/resp_x?stream=true", headers=headers) as replay:
            assert (replay.status, (await replay.json())["error"]["param"]) == (400, "stream")
    labels = {
        sample.labels.get("route")
        for metric in gateway.metrics.registry.collect()
        for sample in metric.samples
        if "route" in sample.labels
    }
    assert "/v1/responses/{response_id}" in labels
    assert not any(label.startswith("/v1/responses/resp_") for label in labels)


async def test_a_server_stop_mid_stream_ends_with_an_error_event_and_response_failed(gateway, fake_openai) -> None:
    first_chunk = sse(chat_chunk({"content": "Hel"}), done=False)
    answer = first_chunk + sse(chat_chunk({"content": "lo"}, "stop"))
    fake_openai.stream(answer, piece_size=len(first_chunk), stall_after=1, stall_s=3600)  # "Hel", then nothing
    app = Gateway(gateway.services, Metrics())
    server, task, url = await serve(app)
    try:
        async with aiohttp.ClientSession() as http:
            response = await http.post(
                f"{url}/v1/responses",
                json={"model": "deepseek/deepseek-flash", "input": "Hi", "stream": True},
                headers={"Authorization": f"Bearer {gateway.api_key}"},
            )
            assert response.status == 200
            first = await response.content.readuntil(b"\n\n")  # the stream has begun: the stop must be an event
            assert b"response.created" in first
            assert await app.in_flight.drain(0) == 1
            body = first + await response.read()
    finally:
        server.should_exit = True
        await task

    decoder = SSEDecoder()
    events = decoder.feed(body) + decoder.flush()
    assert [event.event for event in events[-2:]] == ["error", "response.failed"]
    assert orjson.loads(events[-2].data)["code"] == "server_stopping"
    assert orjson.loads(events[-1].data)["response"]["status"] == "failed"
    await eventually(lambda: fake_openai.disconnects == 1, "the upstream call to be closed")
