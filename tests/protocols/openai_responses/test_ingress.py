"""What a Responses API client sends, read into unified requests; every problem names its field."""

from __future__ import annotations

import pytest

from modelyard.errors import InvalidRequestError, UnsupportedFeatureError
from modelyard.protocols.openai_responses import ingress
from modelyard.types import DocumentPart, ImagePart, Message, ResponseFormat, TextPart, Tool, ToolCall
from modelyard.types.chat import NamedToolChoice


def test_a_string_input_with_instructions_and_the_options_that_map() -> None:
    call = ingress.read(
        {
            "model": "deepseek/deepseek-flash",
            "input": "Hi",
            "instructions": "Be brief.",
            "max_output_tokens": 50,
            "temperature": 0.3,
            "reasoning": {"effort": "low", "summary": "concise"},
            "safety_identifier": "u-1",
            "stream": True,
            "metadata": {"k": "v"},
        }
    )
    request = ingress.conversation(call)
    assert request.messages == (Message.system("Be brief."), Message.user("Hi"))
    assert (request.max_tokens, request.temperature, request.reasoning_effort, request.user) == (50, 0.3, "low", "u-1")
    assert (call.stream, call.store, call.reasoning_summary, call.metadata) == (True, True, "concise", {"k": "v"})
    assert call.input == [{"type": "message", "role": "user", "content": "Hi"}]


def test_items_of_a_tool_round_trip_become_one_assistant_turn_and_tool_messages() -> None:
    call = ingress.read(
        {
            "input": [
                {"role": "developer", "content": [{"type": "input_text", "text": "Use metric."}]},
                {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
                {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Look it up."}]},
                {
                    "type": "message",
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": "Checking.", "annotations": []}],
                },
                {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": '{"city":"Oslo"}'},
                {"type": "function_call", "call_id": "c2", "name": "get_weather", "arguments": '{"city":"Rome"}'},
                {"type": "function_call_output", "call_id": "c1", "output": "-3C"},
                {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "20C"}]},
                {"role": "assistant", "content": "Oslo -3C, Rome 20C."},
            ]
        }
    )
    assert call.request.messages == (
        Message.system("Use metric."),
        Message.user([TextPart("Weather?")]),
        Message.assistant(
            "Checking.",
            [ToolCall("c1", "get_weather", '{"city":"Oslo"}'), ToolCall("c2", "get_weather", '{"city":"Rome"}')],
            reasoning="Look it up.",
        ),
        Message.tool("c1", "-3C"),
        Message("tool", (TextPart("20C"),), tool_call_id="c2"),
        Message.assistant("Oslo -3C, Rome 20C."),
    )


def test_images_and_inline_files() -> None:
    call = ingress.read(
        {
            "input": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_image", "image_url": "https://x.test/cat.png", "detail": "low"},
                        {
                            "type": "input_file",
                            "file_data": "data:application/pdf;base64,JVBERi0=",
                            "filename": "a.pdf",
                        },
                    ],
                }
            ]
        }
    )
    assert call.request.messages[0].content == (
        ImagePart("https://x.test/cat.png", "low"),
        DocumentPart("JVBERi0=", "application/pdf", "a.pdf"),
    )


def test_function_tools_tool_choice_and_a_json_schema_format() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    call = ingress.read(
        {
            "input": "Hi",
            "tools": [{"type": "function", "name": "get_weather", "parameters": schema, "strict": True}],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "parallel_tool_calls": False,
            "text": {"format": {"type": "json_schema", "name": "place", "schema": schema, "strict": True}},
        }
    )
    request = call.request
    assert request.tools == (Tool("get_weather", "", schema, True),)
    assert (request.tool_choice, request.parallel_tool_calls) == (NamedToolChoice("get_weather"), False)
    assert request.response_format == ResponseFormat("json_schema", "place", schema, True)
    assert call.echo["tools"] == [{"type": "function", "name": "get_weather", "parameters": schema, "strict": True}]


def test_the_history_of_a_previous_response_goes_between_the_instructions_and_the_new_input() -> None:
    call = ingress.read(
        {"input": [{"type": "function_call_output", "call_id": "c1", "output": "ok"}], "instructions": "I"}
    )
    history = ingress.messages_of(
        [
            {"role": "user", "content": "Do it"},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        ],
        "previous_response_id",
    )
    assert ingress.conversation(call, history).messages == (
        Message.system("I"),
        Message.user("Do it"),
        Message.assistant("", [ToolCall("c1", "f", "{}")]),
        Message.tool("c1", "ok"),
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"input": []}, "input"),
        ({"input": 3}, "input"),
        ({"input": ["Hi"]}, "input[0]"),
        ({"input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
        ({"input": [{"type": "function_call", "call_id": "c", "arguments": "{}"}]}, "input[0].name"),
        ({"input": [{"role": "critic", "content": "x"}]}, "input[0].role"),
        ({"input": [{"role": "user", "content": [{"type": "input_text"}]}]}, "input[0].content[0].type"),
        ({"input": "Hi", "max_output_tokens": 0}, "max_output_tokens"),
        ({"input": "Hi", "tool_choice": "sometimes"}, "tool_choice"),
        ({"input": "Hi", "text": {"format": {"type": "yaml"}}}, "text.format"),
        ({"input": "Hi", "text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema"),
        ({"input": "Hi", "reasoning": {"summary": "verbose"}}, "reasoning.summary"),
        ({"input": "Hi", "metadata": {"n": 1}}, "metadata"),
        ({"input": "Hi", "store": "yes"}, "store"),
        ({"input": "Hi", "model": ""}, "model"),
    ],
)
def test_malformed_requests_name_the_field(body, field) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        ingress.read(body)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"input": "Hi", "tools": [{"type": "web_search"}]}, "tools[0]"),
        ({"input": "Hi", "background": True}, "background"),
        ({"input": "Hi", "conversation": "conv_1"}, "conversation"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]}]},
            "input[0].content[0]",
        ),
    ],
)
def test_what_only_openai_can_do_is_refused_by_name(body, field) -> None:
    with pytest.raises(UnsupportedFeatureError) as refused:
        ingress.read(body)
    assert refused.value.field == field
