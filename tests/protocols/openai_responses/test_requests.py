"""Unified requests to the Responses API's request body, and which calls take that API at all."""

from __future__ import annotations

import orjson
import pytest

from modelyard.errors import UnsupportedFeatureError
from modelyard.protocols.openai_responses import OpenAIResponses, ResponsesQuirks
from modelyard.protocols.openai_responses.requests import uses_responses
from modelyard.types import AudioPart, ChatRequest, DocumentPart, Message, ResponseFormat, TextPart, Tool, ToolCall
from tests.protocols.targets import target

PROTOCOL = OpenAIResponses()
QUIRKS = ResponsesQuirks(responses_models=("acme-pro",))
RESPONSES = {"api_key": "sk-test-0123456789", "endpoint_url": "https://api.acme.test/v1", "api_protocol": "responses"}
PROTOCOL_FIELD = {
    "variable": "api_protocol",
    "label": {"en_US": "API"},
    "type": "select",
    "default": "chat_completions",
    "options": [
        {"value": "chat_completions", "label": {"en_US": "Chat"}},
        {"value": "responses", "label": {"en_US": "Responses"}},
    ],
}


def responses_target(**overrides):
    return target(quirks=QUIRKS, credentials=RESPONSES, **overrides)


def body_of(request: ChatRequest, *, stream: bool = False, **overrides) -> dict:
    upstream = PROTOCOL.build_chat(responses_target(**overrides), request, stream=stream)
    assert upstream.url == "https://api.acme.test/v1/responses"
    return orjson.loads(upstream.body)


def test_the_credential_chooses_the_api_and_an_unset_field_takes_the_forms_default() -> None:
    chat = target(quirks=QUIRKS)
    assert not uses_responses(chat)
    assert uses_responses(responses_target())
    provider_default = {**PROTOCOL_FIELD, "default": "responses"}
    form = [*target().provider.model_credentials, provider_default]
    assert uses_responses(target(quirks=QUIRKS, model_credentials=form))


def test_a_responses_only_model_takes_the_responses_api_whatever_the_credential_says() -> None:
    assert uses_responses(target(model_id="acme-pro", quirks=QUIRKS))
    pro_upstream = PROTOCOL.build_chat(
        target(model_id="acme-pro", quirks=QUIRKS), ChatRequest.user_text("Hi"), stream=False
    )
    assert pro_upstream.url.endswith("/responses")
    chat_upstream = PROTOCOL.build_chat(target(quirks=QUIRKS), ChatRequest.user_text("Hi"), stream=False)
    assert chat_upstream.url.endswith("/chat/completions")


def test_a_deployment_of_a_responses_only_base_model_takes_the_responses_api() -> None:
    deployment = target(
        model_id="my-deployment",
        quirks=QUIRKS,
        credentials={"api_key": "k", "endpoint_url": "https://x.test", "base": "acme-pro"},
        base_model_credential="base",
        model_credentials=[
            {"variable": "endpoint_url", "label": {"en_US": "URL"}, "type": "text-input"},
            {"variable": "api_key", "label": {"en_US": "Key"}, "type": "secret-input"},
            {"variable": "base", "label": {"en_US": "Base"}, "type": "text-input"},
        ],
    )
    assert uses_responses(deployment)


def test_azure_deployments_are_called_on_the_v1_api_with_the_deployment_as_model() -> None:
    azure = ResponsesQuirks(url_style="azure-deployment", api_version_credential="v")
    upstream = PROTOCOL.build_chat(
        target(quirks=azure, credentials=RESPONSES, base_url="https://r.openai.azure.com/openai", upstream_model="dep"),
        ChatRequest.user_text("Hi"),
        stream=False,
    )
    assert upstream.url == "https://r.openai.azure.com/openai/v1/responses"
    assert orjson.loads(upstream.body)["model"] == "dep"


def test_leading_system_messages_become_instructions_and_later_ones_items() -> None:
    request = ChatRequest(
        messages=(
            Message.system("Be brief."),
            Message.system("Use metric."),
            Message.user("Hi"),
            Message.system("Now French."),
        )
    )
    body = body_of(request)
    assert body["instructions"] == "Be brief.\n\nUse metric."
    assert body["input"] == [{"role": "user", "content": "Hi"}, {"role": "system", "content": "Now French."}]
    assert body["store"] is False


def test_a_tool_round_trip_becomes_message_function_call_and_output_items() -> None:
    request = ChatRequest(
        messages=(
            Message.user("Weather?"),
            Message.assistant("Checking.", [ToolCall("c1", "get_weather", '{"city":"Oslo"}')], reasoning="ignored"),
            Message.tool("c1", "-3C"),
            Message("tool", (TextPart("and "), TextPart("windy")), tool_call_id="c2"),
        ),
        tools=(Tool("get_weather", "", {"type": "object"}, strict=True),),
        tool_choice="required",
    )
    body = body_of(request)
    assert body["input"] == [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "Checking."},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": '{"city":"Oslo"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "-3C"},
        {
            "type": "function_call_output",
            "call_id": "c2",
            "output": [{"type": "input_text", "text": "and "}, {"type": "input_text", "text": "windy"}],
        },
    ]
    assert body["tools"] == [
        {"type": "function", "name": "get_weather", "parameters": {"type": "object"}, "strict": True}
    ]
    assert body["tool_choice"] == "required"


def test_documents_go_as_input_files_and_audio_is_refused_by_name() -> None:
    document = DocumentPart("JVBERi0=", "application/pdf", "a.pdf")
    body = body_of(ChatRequest(messages=(Message.user([document]),)))
    part = body["input"][0]["content"][0]
    assert part == {"type": "input_file", "file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}
    with pytest.raises(UnsupportedFeatureError) as refused:
        body_of(ChatRequest(messages=(Message.user([AudioPart("UklGRg==", "wav")]),)))
    assert refused.value.field == "messages"


@pytest.mark.parametrize(
    ("field", "value"), [("stop", ("END",)), ("seed", 3), ("presence_penalty", 0.5), ("frequency_penalty", 0.1)]
)
def test_chat_completions_parameters_without_a_responses_field_are_refused_by_name(field, value) -> None:
    request = ChatRequest(messages=(Message.user("Hi"),), **{field: value})
    with pytest.raises(UnsupportedFeatureError) as refused:
        body_of(request)
    assert refused.value.field == field


def test_reasoning_models_are_asked_for_a_summary_unless_reasoning_is_off() -> None:
    thinking = {"features": ("reasoning",)}
    assert body_of(ChatRequest(messages=(Message.user("Hi"),), reasoning_effort="high"), **thinking)["reasoning"] == {
        "effort": "high",
        "summary": "auto",
    }
    assert body_of(ChatRequest.user_text("Hi"), **thinking)["reasoning"] == {"summary": "auto"}
    off = body_of(ChatRequest(messages=(Message.user("Hi"),), reasoning_effort="none"), **thinking)
    assert off["reasoning"] == {"effort": "none"}
    assert "reasoning" not in body_of(ChatRequest.user_text("Hi"))  # not a reasoning model


def test_output_limit_json_schema_user_stream_and_vendor_extras() -> None:
    schema = {"type": "object", "properties": {}}
    request = ChatRequest(
        messages=(Message.user("Hi"),),
        max_tokens=64,
        response_format=ResponseFormat("json_schema", "answer", schema, strict=True),
        user="u-7",
        extra={"service_tier": "flex"},
    )
    body = body_of(request, stream=True)
    assert body["max_output_tokens"] == 64
    assert body["text"] == {"format": {"type": "json_schema", "name": "answer", "schema": schema, "strict": True}}
    assert (body["safety_identifier"], body["stream"], body["service_tier"]) == ("u-7", True, "flex")
    assert body_of(ChatRequest(messages=(Message.user("Hi"),), response_format=ResponseFormat("json_object")))[
        "text"
    ] == {"format": {"type": "json_object"}}
