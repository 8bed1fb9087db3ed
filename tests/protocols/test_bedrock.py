"""The Bedrock family on bytes: Converse requests and answers, ConverseStream events, InvokeModel embeddings, errors."""

from __future__ import annotations

import json

import orjson
import pytest

from modelyard.errors import (
    InvalidRequestError,
    UnsupportedFeatureError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from modelyard.protocols.aws import AWSQuirks
from modelyard.protocols.bedrock import Bedrock
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import ChatRequest, DocumentPart, EmbeddingRequest, ImagePart, Message, TextPart, Tool, ToolCall
from modelyard.types.chat import NamedToolChoice, ResponseFormat
from modelyard.types.usage import UNREPORTED
from tests.protocols.targets import target as make_target

BEDROCK = Bedrock()
BASE = "https://bedrock-runtime.us-east-1.amazonaws.com"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
WEATHER = Tool("get_weather", "Weather for a city", {"type": "object", "properties": {"city": {"type": "string"}}})
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def target(model_id: str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0", model_type: str = "llm", **overrides):
    credentials = {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": SECRET_KEY, "aws_region": "us-east-1"}
    return make_target(
        model_type,
        model_id=model_id,
        base_url=BASE,
        quirks=AWSQuirks(endpoint_credential="endpoint_url"),
        credentials=overrides.pop("credentials", credentials),
        protocol="bedrock",
        model_credentials=[
            {"variable": "aws_access_key_id", "label": {"en_US": "Key"}, "type": "secret-input"},
            {"variable": "aws_secret_access_key", "label": {"en_US": "Secret"}, "type": "secret-input"},
            {"variable": "endpoint_url", "label": {"en_US": "URL"}, "type": "text-input"},
        ],
        **overrides,
    )


def body_of(request) -> dict:
    return json.loads(request.body)


# --- Converse requests ------------------------------------------------------------------------------------------


def test_converse_request_carries_system_inference_config_and_tools() -> None:
    request = ChatRequest(
        messages=(Message.system("Be brief."), Message.user("Weather in Oslo?")),
        tools=(WEATHER,),
        tool_choice="required",
        temperature=0.5,
        top_p=0.9,
        max_tokens=100,
        stop=("END",),
        seed=7,  # Converse has no seed: not sent
    )

    wire = BEDROCK.build_chat(target(), request, stream=False)

    assert wire.method == "POST"
    assert wire.url == f"{BASE}/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"
    assert wire.headers == {"Content-Type": "application/json"}
    assert body_of(wire) == {
        "messages": [{"role": "user", "content": [{"text": "Weather in Oslo?"}]}],
        "system": [{"text": "Be brief."}],
        "inferenceConfig": {"maxTokens": 100, "temperature": 0.5, "topP": 0.9, "stopSequences": ["END"]},
        "toolConfig": {
            "tools": [
                {
                    "toolSpec": {
                        "name": "get_weather",
                        "description": "Weather for a city",
                        "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}},
                    }
                }
            ],
            "toolChoice": {"any": {}},
        },
    }


def test_converse_stream_goes_to_the_stream_route_with_the_same_body() -> None:
    request = ChatRequest.user_text("Hi")
    plain = BEDROCK.build_chat(target(), request, stream=False)
    streamed = BEDROCK.build_chat(target(), request, stream=True)
    assert streamed.url.endswith("/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream")
    assert streamed.body == plain.body


def test_converse_bodies_are_serialized_like_botocore() -> None:
    wire = BEDROCK.build_chat(target(), ChatRequest.user_text("Grüß dich"), stream=False)
    assert wire.body == b'{"messages": [{"role": "user", "content": [{"text": "Gr\\u00fc\\u00df dich"}]}]}'


def test_an_arn_model_id_is_one_path_segment() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"
    wire = BEDROCK.build_chat(target(upstream_model=arn), ChatRequest.user_text("Hi"), stream=False)
    assert "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabc123/" in wire.url


def test_an_endpoint_url_credential_replaces_the_regional_endpoint() -> None:
    credentials = {"endpoint_url": "https://vpce-1.bedrock-runtime.us-east-1.vpce.amazonaws.com/"}
    wire = BEDROCK.build_chat(target(credentials=credentials), ChatRequest.user_text("Hi"), stream=False)
    assert wire.url.startswith("https://vpce-1.bedrock-runtime.us-east-1.vpce.amazonaws.com/model/")


def test_tool_calls_and_results_become_tool_use_and_tool_result_blocks_in_alternating_turns() -> None:
    messages = (
        Message.user("Weather in Oslo and Rome?"),
        Message.assistant(
            "Checking.", [ToolCall("t1", "get_weather", '{"city":"Oslo"}'), ToolCall("t2", "get_weather", "")]
        ),
        Message.tool("t1", "-3C"),
        Message.tool("t2", ""),
        Message.user("And tomorrow?"),
    )

    wire = BEDROCK.build_chat(target(), ChatRequest(messages=messages, tools=(WEATHER,)), stream=False)

    assert body_of(wire)["messages"] == [
        {"role": "user", "content": [{"text": "Weather in Oslo and Rome?"}]},
        {
            "role": "assistant",
            "content": [
                {"text": "Checking."},
                {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"city": "Oslo"}}},
                {"toolUse": {"toolUseId": "t2", "name": "get_weather", "input": {}}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": "t1", "content": [{"text": "-3C"}]}},
                {"toolResult": {"toolUseId": "t2", "content": [{"text": "(no output)"}]}},
                {"text": "And tomorrow?"},
            ],
        },
    ]
    assert "toolChoice" not in body_of(wire)["toolConfig"]


def test_tool_choice_none_drops_the_tools_unless_the_history_uses_them() -> None:
    fresh = ChatRequest(messages=(Message.user("Hi"),), tools=(WEATHER,), tool_choice="none")
    assert "toolConfig" not in body_of(BEDROCK.build_chat(target(), fresh, stream=False))
    history = (
        Message.user("Hi"),
        Message.assistant("", [ToolCall("t1", "get_weather", "{}")]),
        Message.tool("t1", "ok"),
    )
    used = ChatRequest(messages=history, tools=(WEATHER,), tool_choice="none")
    assert body_of(BEDROCK.build_chat(target(), used, stream=False))["toolConfig"] == {
        "tools": [
            {
                "toolSpec": {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "inputSchema": {"json": dict(WEATHER.parameters)},
                }
            }
        ]
    }


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", {"auto": {}}),
        ("required", {"any": {}}),
        (NamedToolChoice("get_weather"), {"tool": {"name": "get_weather"}}),
    ],
)
def test_tool_choices_map_to_converse_unions(choice, wire) -> None:
    request = ChatRequest(messages=(Message.user("Hi"),), tools=(WEATHER,), tool_choice=choice)
    assert body_of(BEDROCK.build_chat(target(), request, stream=False))["toolConfig"]["toolChoice"] == wire


def test_inline_images_and_documents_go_as_base64_blocks() -> None:
    content = (
        TextPart("What is this?"),
        ImagePart(f"data:image/png;base64,{PIXEL}"),
        ImagePart("s3://bucket/photos/cat.JPG"),
        DocumentPart("JVBERi0=", "application/pdf", "Q3 report.v2.pdf"),
    )
    wire = BEDROCK.build_chat(target(), ChatRequest(messages=(Message.user(content),)), stream=False)
    assert body_of(wire)["messages"][0]["content"] == [
        {"text": "What is this?"},
        {"image": {"format": "png", "source": {"bytes": PIXEL}}},
        {"image": {"format": "jpeg", "source": {"s3Location": {"uri": "s3://bucket/photos/cat.JPG"}}}},
        {"document": {"format": "pdf", "name": "Q3 reportv2", "source": {"bytes": "JVBERi0="}}},
    ]


def test_an_image_by_https_url_is_refused_because_bedrock_does_not_fetch() -> None:
    request = ChatRequest(messages=(Message.user([ImagePart("https://example.com/cat.png")]),))
    with pytest.raises(UnsupportedFeatureError, match="inline"):
        BEDROCK.build_chat(target(), request, stream=False)


def test_json_schema_output_goes_as_output_config_text_format_with_the_schema_as_text() -> None:
    schema = {"type": "object", "properties": {"caption": {"type": "string"}}, "required": ["caption"]}
    request = ChatRequest(
        messages=(Message.user("Caption"),),
        response_format=ResponseFormat("json_schema", "caption", schema),
        reasoning_effort="high",
    )
    assert body_of(BEDROCK.build_chat(target(), request, stream=False))["outputConfig"] == {
        "effort": "high",
        "textFormat": {
            "type": "json_schema",
            "structure": {"jsonSchema": {"schema": json.dumps(schema), "name": "caption"}},
        },
    }


def test_json_object_output_is_refused_since_converse_only_takes_a_schema() -> None:
    request = ChatRequest(messages=(Message.user("x"),), response_format=ResponseFormat("json_object"))
    with pytest.raises(UnsupportedFeatureError, match="json_schema"):
        BEDROCK.build_chat(target(), request, stream=False)


def test_extra_parameters_go_to_converse_fields_or_to_the_model_passthrough() -> None:
    extra = {
        "top_k": 40,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "performanceConfig": {"latency": "optimized"},
        "additionalModelRequestFields": {"inferenceConfig": {"topK": 20}},
    }
    body = body_of(BEDROCK.build_chat(target(), ChatRequest(messages=(Message.user("x"),), extra=extra), stream=False))
    assert body["performanceConfig"] == {"latency": "optimized"}
    assert body["additionalModelRequestFields"] == {
        "top_k": 40,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "inferenceConfig": {"topK": 20},
    }


def test_tool_call_arguments_that_are_not_json_are_refused() -> None:
    messages = (Message.user("x"), Message.assistant("", [ToolCall("t1", "f", "{broken")]), Message.tool("t1", "y"))
    with pytest.raises(InvalidRequestError, match="not JSON"):
        BEDROCK.build_chat(target(), ChatRequest(messages=messages, tools=(WEATHER,)), stream=False)


# --- Converse answers -------------------------------------------------------------------------------------------


def test_converse_answer_gives_text_reasoning_tool_calls_and_usage() -> None:
    answer = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"reasoningContent": {"reasoningText": {"text": "Think.", "signature": "sig"}}},
                    {"text": "Let me check."},
                    {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Oslo"}}},
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 35, "cacheReadInputTokens": 20},
        "metrics": {"latencyMs": 100},
    }

    result = BEDROCK.parse_chat(target(), orjson.dumps(answer))

    assert result.content == "Let me check."
    assert result.reasoning == "Think."
    assert result.tool_calls == (ToolCall("tooluse_1", "get_weather", '{"city":"Oslo"}'),)
    assert result.finish_reason == "tool_calls"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.cached_tokens) == (30, 5, 20)


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("tool_use", "tool_calls"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
        ("malformed_model_output", "error"),
        ("malformed_tool_use", "error"),
        ("a_reason_from_the_future", "stop"),
    ],
)
def test_stop_reasons_map_to_openai_finish_reasons(stop_reason: str, finish: str) -> None:
    answer = {"output": {"message": {"role": "assistant", "content": [{"text": "x"}]}}, "stopReason": stop_reason}
    assert BEDROCK.parse_chat(target(), orjson.dumps(answer)).finish_reason == finish


def test_a_converse_answer_without_usage_leaves_usage_to_the_runtime() -> None:
    answer = {"output": {"message": {"role": "assistant", "content": [{"text": "x"}]}}, "stopReason": "end_turn"}
    assert BEDROCK.parse_chat(target(), orjson.dumps(answer)).usage is UNREPORTED


# --- ConverseStream events --------------------------------------------------------------------------------------


def event(kind: str, payload: dict) -> ServerSentEvent:
    return ServerSentEvent(orjson.dumps(payload), kind)


def test_stream_events_become_text_reasoning_tool_call_deltas_finish_and_usage() -> None:
    parser = BEDROCK.chat_stream_parser(target())
    events = [
        event("messageStart", {"role": "assistant"}),
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Hmm."}}}),
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "sig"}}}),
        event("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"text": "Checking"}, "p": "abcdef"}),
        event("contentBlockStop", {"contentBlockIndex": 1}),
        event(
            "contentBlockStart",
            {"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "a", "name": "get_weather"}}},
        ),
        event("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"toolUse": {"input": '{"city": '}}}),
        event("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"toolUse": {"input": '"Oslo"}'}}}),
        event(
            "contentBlockStart",
            {"contentBlockIndex": 3, "start": {"toolUse": {"toolUseId": "b", "name": "get_weather"}}},
        ),
        event("contentBlockDelta", {"contentBlockIndex": 3, "delta": {"toolUse": {"input": "{}"}}}),
        event("messageStop", {"stopReason": "tool_use"}),
        event(
            "metadata", {"usage": {"inputTokens": 7, "outputTokens": 9, "totalTokens": 16}, "metrics": {"latencyMs": 1}}
        ),
    ]

    chunks = [chunk for e in events if (chunk := parser.feed(e)) is not None]

    assert [c.reasoning for c in chunks if c.reasoning] == ["Hmm."]
    assert [c.content for c in chunks if c.content] == ["Checking"]
    deltas = [(d.index, d.id, d.name, d.arguments) for c in chunks for d in c.tool_calls]
    assert deltas == [
        (0, "a", "get_weather", ""),
        (0, None, None, '{"city": '),
        (0, None, None, '"Oslo"}'),
        (1, "b", "get_weather", ""),
        (1, None, None, "{}"),
    ]
    assert chunks[-2].finish_reason == "tool_calls"
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (7, 9)
    assert parser.finished


@pytest.mark.parametrize(
    ("exception_type", "error", "status"),
    [
        ("throttlingException", UpstreamRateLimitError, 429),
        ("modelStreamErrorException", UpstreamUnavailableError, 424),
        ("validationException", UpstreamBadRequestError, 400),
        ("internalServerException", UpstreamUnavailableError, 500),
        ("serviceUnavailableException", UpstreamUnavailableError, 503),
    ],
)
def test_an_exception_inside_the_stream_raises_its_error(exception_type, error, status) -> None:
    parser = BEDROCK.chat_stream_parser(target())
    failure = ServerSentEvent(b'{"message":"it broke"}', exception_type, "exception")
    with pytest.raises(error, match="it broke") as caught:
        parser.feed(failure)
    assert caught.value.status_code == status
    assert caught.value.vendor_code == exception_type[0].upper() + exception_type[1:]


# --- errors -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (400, "ValidationException", UpstreamBadRequestError),
        (403, "AccessDeniedException", UpstreamAuthError),
        (403, "UnrecognizedClientException", UpstreamAuthError),
        (403, "InvalidSignatureException", UpstreamAuthError),
        (400, "ExpiredTokenException", UpstreamAuthError),
        (404, "ResourceNotFoundException", UpstreamBadRequestError),
        (408, "ModelTimeoutException", UpstreamTimeoutError),
        (424, "ModelErrorException", UpstreamUnavailableError),
        (429, "ThrottlingException", UpstreamRateLimitError),
        (400, "ServiceQuotaExceededException", UpstreamRateLimitError),
        (429, "ModelNotReadyException", UpstreamUnavailableError),
        (500, "InternalServerException", UpstreamUnavailableError),
        (503, "ServiceUnavailableException", UpstreamUnavailableError),
    ],
)
def test_every_documented_bedrock_error_maps_into_the_hierarchy(status: int, code: str, error: type) -> None:
    headers = {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    raised = BEDROCK.parse_error(target(), status, headers, b'{"message":"no"}')
    assert type(raised) is error
    assert raised.vendor_code == code
    assert raised.status_code == status
    assert str(raised).startswith("[acme] ")


def test_the_error_code_may_come_from_the_body_type_field() -> None:
    body = b'{"__type":"com.amazon.coral.validate#ValidationException","message":"bad model id"}'
    raised = BEDROCK.parse_error(target(), 400, {}, body)
    assert isinstance(raised, UpstreamBadRequestError)
    assert raised.vendor_code == "ValidationException"
    assert "bad model id" in str(raised)


def test_a_throttle_keeps_the_retry_after_header() -> None:
    raised = BEDROCK.parse_error(target(), 429, {"x-amzn-ErrorType": "ThrottlingException", "Retry-After": "3"}, b"{}")
    assert isinstance(raised, UpstreamRateLimitError)
    assert raised.retry_after_s == 3


def test_error_messages_never_carry_the_secret_key() -> None:
    raised = BEDROCK.parse_error(target(), 403, {}, orjson.dumps({"message": f"bad key {SECRET_KEY}"}))
    assert SECRET_KEY not in str(raised)


# --- embeddings -------------------------------------------------------------------------------------------------


def embedding_target(model_id: str, **properties):
    return target(model_id, "text-embedding", properties=properties)


def test_titan_v2_embeds_one_text_with_dimensions_and_normalization() -> None:
    titan = embedding_target("amazon.titan-embed-text-v2:0", supports_dimensions=True, max_chunks=1)
    wire = BEDROCK.build_embeddings(titan, EmbeddingRequest(("hello",), dimensions=256))
    assert wire.url == f"{BASE}/model/amazon.titan-embed-text-v2%3A0/invoke"
    assert wire.headers == {"Content-Type": "application/json", "Accept": "application/json"}
    assert body_of(wire) == {"inputText": "hello", "dimensions": 256, "normalize": True}
    answer = BEDROCK.parse_embeddings(titan, b'{"embedding":[0.1,0.2],"inputTextTokenCount":2}')
    assert answer.vectors == ([0.1, 0.2],)
    assert answer.usage.prompt_tokens == 2


def test_titan_v1_takes_no_dimensions() -> None:
    titan = embedding_target("amazon.titan-embed-text-v1")
    assert body_of(BEDROCK.build_embeddings(titan, EmbeddingRequest(("hello",)))) == {"inputText": "hello"}
    with pytest.raises(UnsupportedFeatureError):
        BEDROCK.build_embeddings(titan, EmbeddingRequest(("hello",), dimensions=256))


def test_titan_refuses_a_batch_since_it_embeds_one_text_per_call() -> None:
    with pytest.raises(InvalidRequestError):
        BEDROCK.build_embeddings(embedding_target("amazon.titan-embed-text-v1"), EmbeddingRequest(("a", "b")))


def test_cohere_embeds_a_batch_with_the_input_type_of_a_query_or_a_document() -> None:
    cohere = embedding_target("cohere.embed-english-v3")
    as_documents = body_of(BEDROCK.build_embeddings(cohere, EmbeddingRequest(("a", "b"))))
    as_query = body_of(BEDROCK.build_embeddings(cohere, EmbeddingRequest(("a",), input_type="query")))
    assert as_documents == {"texts": ["a", "b"], "input_type": "search_document", "embedding_types": ["float"]}
    assert as_query["input_type"] == "search_query"
    v4 = embedding_target("us.cohere.embed-v4:0", supports_dimensions=True)
    assert body_of(BEDROCK.build_embeddings(v4, EmbeddingRequest(("a",), dimensions=512)))["output_dimension"] == 512


@pytest.mark.parametrize(
    "answer",
    [
        {"id": "1", "embeddings": [[0.1], [0.2]], "response_type": "embeddings_floats", "texts": ["a", "b"]},
        {
            "id": "1",
            "embeddings": {"float": [[0.1], [0.2]]},
            "response_type": "embeddings_by_type",
            "texts": ["a", "b"],
        },
    ],
)
def test_cohere_answers_by_type_or_as_floats_both_read(answer) -> None:
    result = BEDROCK.parse_embeddings(embedding_target("cohere.embed-english-v3"), orjson.dumps(answer))
    assert result.vectors == ([0.1], [0.2])
    assert result.usage is UNREPORTED  # Bedrock reports Cohere's token count in a header only


def test_an_embedding_model_of_an_unknown_family_is_refused() -> None:
    with pytest.raises(UnsupportedFeatureError, match="Titan and Cohere"):
        BEDROCK.build_embeddings(embedding_target("amazon.nova-2-multimodal-embeddings-v1:0"), EmbeddingRequest(("a",)))
