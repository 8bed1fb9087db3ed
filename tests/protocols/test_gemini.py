"""The generateContent family on bytes alone: requests built, answers and errors read, no socket."""

from __future__ import annotations

import orjson
import pytest

from modelyard.errors import (
    ContentFilteredError,
    InvalidRequestError,
    UnsupportedFeatureError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamConnectionError,
    UpstreamProtocolError,
    UpstreamRateLimitError,
    UpstreamUnavailableError,
)
from modelyard.protocols.gemini import Gemini, GeminiQuirks
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import (
    AudioPart,
    ChatRequest,
    DocumentPart,
    EmbeddingRequest,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
)
from modelyard.types.chat import NamedToolChoice
from modelyard.types.usage import UNREPORTED
from tests.fakes.gemini import answer, blocked, call_part, sse, status_error, text_part, usage
from tests.protocols.targets import target

gemini = Gemini()
KEY = "AIzaSy-test-0123456789"
WEATHER = Tool(
    "get_weather",
    "Weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
VERTEX = GeminiQuirks(
    url_style="vertex", location_credential="location", predict_embedding_prefixes=("text-embedding-",)
)


def google(
    model_type: str = "llm",
    *,
    model_id: str = "gemini-2.5-flash",
    features: tuple[str, ...] = ("tool-call", "vision", "audio", "document", "structured-output"),
    quirks: GeminiQuirks | None = None,
    base_url: str = "https://generativelanguage.googleapis.com/v1beta",
    credentials: dict[str, str] | None = None,
    properties: dict | None = None,
):
    return target(
        model_type,
        model_id=model_id,
        features=features,
        quirks=quirks or GeminiQuirks(),  # type: ignore[arg-type]
        base_url=base_url,
        credentials=credentials or {"api_key": KEY, "endpoint_url": base_url},
        properties=properties,
        protocol="gemini",
    )


def body_of(request) -> dict:
    return orjson.loads(request.body)


# --- chat requests -----------------------------------------------------------------------------------------------


def test_chat_request_carries_system_contents_tools_and_generation_config() -> None:
    request = ChatRequest(
        messages=(
            Message.system("Be brief."),
            Message.user(
                [
                    TextPart("What is here?"),
                    ImagePart("data:image/png;base64,iVBOR"),
                    ImagePart("https://example.test/cat.webp"),
                ]
            ),
            Message.assistant("Let me look.", [ToolCall("fc-1__thought__c2lnbmVk", "get_weather", '{"city":"Oslo"}')]),
            Message.tool("fc-1__thought__c2lnbmVk", '{"temp": 21}'),
        ),
        tools=(WEATHER,),
        tool_choice=NamedToolChoice("get_weather"),
        temperature=0.2,
        top_p=0.9,
        max_tokens=50,
        stop=("END",),
        seed=7,
        presence_penalty=0.1,
        frequency_penalty=0.3,
    )
    upstream = gemini.build_chat(google(), request, stream=False)

    assert upstream.method == "POST"
    assert upstream.url == "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    assert upstream.headers == {"Content-Type": "application/json"}
    assert body_of(upstream) == {
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "What is here?"},
                    {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}},
                    {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.test/cat.webp"}},
                ],
            },
            {
                "role": "model",
                "parts": [
                    {"text": "Let me look."},
                    {
                        "functionCall": {"name": "get_weather", "args": {"city": "Oslo"}, "id": "fc-1"},
                        "thoughtSignature": "c2lnbmVk",
                    },
                ],
            },
            {
                "role": "user",
                "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp": 21}, "id": "fc-1"}}],
            },
        ],
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "description": "Weather for a city",
                        "parametersJsonSchema": dict(WEATHER.parameters),
                    }
                ]
            }
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
        "generationConfig": {
            "temperature": 0.2,
            "topP": 0.9,
            "maxOutputTokens": 50,
            "stopSequences": ["END"],
            "seed": 7,
            "presencePenalty": 0.1,
            "frequencyPenalty": 0.3,
        },
    }


def test_streamed_chat_asks_for_server_sent_events() -> None:
    upstream = gemini.build_chat(google(), ChatRequest.user_text("Hi"), stream=True)
    assert upstream.url.endswith("/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
    assert body_of(upstream) == {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        (NamedToolChoice("get_weather"), {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}),
    ],
)
def test_tool_choice_maps_to_a_function_calling_mode(choice, config) -> None:
    request = ChatRequest(messages=(Message.user("Hi"),), tools=(WEATHER,), tool_choice=choice)
    assert body_of(gemini.build_chat(google(), request, stream=False))["toolConfig"] == {
        "functionCallingConfig": config
    }


def test_json_object_and_json_schema_output_set_the_response_mime_type() -> None:
    schema = {"type": "object", "properties": {"caption": {"type": "string"}}, "additionalProperties": False}
    as_object = ChatRequest(messages=(Message.user("Hi"),), response_format=ResponseFormat("json_object"))
    as_schema = ChatRequest(messages=(Message.user("Hi"),), response_format=ResponseFormat("json_schema", "c", schema))
    as_text = ChatRequest(messages=(Message.user("Hi"),), response_format=ResponseFormat("text"))

    assert body_of(gemini.build_chat(google(), as_object, stream=False))["generationConfig"] == {
        "responseMimeType": "application/json"
    }
    assert body_of(gemini.build_chat(google(), as_schema, stream=False))["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseJsonSchema": schema,
    }
    assert "generationConfig" not in body_of(gemini.build_chat(google(), as_text, stream=False))


def test_reasoning_models_ask_for_thought_summaries_and_take_an_effort_as_thinking_level() -> None:
    thinker = google(features=("reasoning",))
    plain = body_of(gemini.build_chat(thinker, ChatRequest.user_text("Hi"), stream=False))
    effort = ChatRequest(messages=(Message.user("Hi"),), reasoning_effort="low")
    off = ChatRequest(messages=(Message.user("Hi"),), reasoning_effort="none")

    assert plain["generationConfig"] == {"thinkingConfig": {"includeThoughts": True}}
    assert body_of(gemini.build_chat(thinker, effort, stream=False))["generationConfig"] == {
        "thinkingConfig": {"includeThoughts": True, "thinkingLevel": "LOW"}
    }
    assert body_of(gemini.build_chat(thinker, off, stream=False))["generationConfig"] == {
        "thinkingConfig": {"thinkingBudget": 0}
    }
    assert "generationConfig" not in body_of(gemini.build_chat(google(), ChatRequest.user_text("Hi"), stream=False))


def test_answers_to_parallel_calls_travel_in_one_user_turn_named_by_their_call() -> None:
    request = ChatRequest(
        messages=(
            Message.user("Oslo and Rome?"),
            Message.assistant(
                "", [ToolCall("call_0", "get_weather", '{"city":"Oslo"}'), ToolCall("call_1", "get_time", "")]
            ),
            Message.tool("call_0", "sunny"),
            Message.tool("call_1", "noon"),
            Message.user("Thanks"),
        )
    )
    contents = body_of(gemini.build_chat(google(), request, stream=False))["contents"]

    assert contents[1] == {
        "role": "model",
        "parts": [
            {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}, "id": "call_0"}},
            {"functionCall": {"name": "get_time", "args": {}, "id": "call_1"}},
        ],
    }
    assert contents[2] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"output": "sunny"}, "id": "call_0"}},
            {"functionResponse": {"name": "get_time", "response": {"output": "noon"}, "id": "call_1"}},
        ],
    }
    assert contents[3] == {"role": "user", "parts": [{"text": "Thanks"}]}


def test_a_tool_result_for_an_unknown_call_is_refused_naming_the_message() -> None:
    request = ChatRequest(messages=(Message.user("Hi"), Message.tool("call_9", "42")))
    with pytest.raises(InvalidRequestError) as caught:
        gemini.build_chat(google(), request, stream=False)
    assert caught.value.field == "messages[1]"


def test_tool_arguments_that_are_not_a_json_object_are_refused() -> None:
    request = ChatRequest(messages=(Message.assistant("", [ToolCall("c", "f", "[1, 2]")]),))
    with pytest.raises(InvalidRequestError) as caught:
        gemini.build_chat(google(), request, stream=False)
    assert caught.value.field == "messages[0].tool_calls[0].function.arguments"


def test_audio_and_documents_are_sent_inline() -> None:
    request = ChatRequest(messages=(Message.user([AudioPart("UklG", "wav"), DocumentPart("JVBE", "application/pdf")]),))
    parts = body_of(gemini.build_chat(google(), request, stream=False))["contents"][0]["parts"]
    assert parts == [
        {"inlineData": {"mimeType": "audio/wav", "data": "UklG"}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBE"}},
    ]


def test_vendor_parameters_go_where_gemini_expects_them() -> None:
    safety = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    request = ChatRequest(
        messages=(Message.user("Hi"),), temperature=0.5, extra={"top_k": 40, "safety_settings": safety}
    )
    body = body_of(gemini.build_chat(google(), request, stream=False))
    assert body["generationConfig"] == {"temperature": 0.5, "topK": 40}
    assert body["safetySettings"] == safety


@pytest.mark.parametrize(
    ("location", "url"),
    [
        ("global", "https://aiplatform.googleapis.com/v1/projects/p/locations/global/publishers/google"),
        (
            "us-central1",
            "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/google",
        ),
        ("eu", "https://aiplatform.eu.rep.googleapis.com/v1/projects/p/locations/eu/publishers/google"),
    ],
)
def test_vertex_picks_the_host_of_the_location_like_the_sdk(location, url) -> None:
    base = f"https://aiplatform.googleapis.com/v1/projects/p/locations/{location}/publishers/google"
    vertex = google(quirks=VERTEX, base_url=base, credentials={"location": location})
    assert gemini.build_chat(vertex, ChatRequest.user_text("Hi"), stream=False).url == (
        f"{url}/models/gemini-2.5-flash:generateContent"
    )


def test_vertex_keeps_an_endpoint_the_user_chose() -> None:
    base = "https://psc.internal.test/v1/projects/p/locations/us-central1/publishers/google"
    vertex = google(quirks=VERTEX, base_url=base, credentials={"location": "us-central1"})
    assert gemini.build_chat(vertex, ChatRequest.user_text("Hi"), stream=True).url == (
        f"{base}/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )


# --- chat answers ------------------------------------------------------------------------------------------------


def test_chat_result_has_content_reasoning_and_usage() -> None:
    tokens = usage(20, 10, thoughts=6, cached=8)
    tokens["toolUsePromptTokenCount"] = 4
    body = answer(text_part("Thinking it over.", thought=True), text_part("Hello "), text_part("there."), tokens=tokens)
    result = gemini.parse_chat(google(), orjson.dumps(body))

    assert result.content == "Hello there."
    assert result.reasoning == "Thinking it over."
    assert result.finish_reason == "stop"
    assert result.model == "gemini-2.5-flash"
    assert result.id == "resp-fake"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (24, 16)
    assert (result.usage.cached_tokens, result.usage.reasoning_tokens) == (8, 6)


def test_function_calls_keep_their_id_and_signature_and_finish_as_tool_calls() -> None:
    body = answer(
        call_part("get_weather", {"city": "Oslo"}, id="fc-7", signature="c2ln"),
        call_part("get_time", {}),
        tokens=usage(20, 8),
    )
    result = gemini.parse_chat(google(), orjson.dumps(body))

    assert result.tool_calls == (
        ToolCall("fc-7__thought__c2ln", "get_weather", '{"city":"Oslo"}'),
        ToolCall("call_1", "get_time", "{}"),
    )
    assert result.finish_reason == "tool_calls"


def test_a_call_read_from_an_answer_goes_back_as_it_came() -> None:
    came = answer(call_part("get_weather", {"city": "Oslo"}, id="fc-7", signature="c2ln"))
    result = gemini.parse_chat(google(), orjson.dumps(came))
    follow_up = ChatRequest(
        messages=(Message.user("Oslo?"), result.message(), Message.tool(result.tool_calls[0].id, "sunny")),
        tools=(WEATHER,),
    )
    contents = body_of(gemini.build_chat(google(), follow_up, stream=False))["contents"]

    assert contents[1]["parts"] == [call_part("get_weather", {"city": "Oslo"}, id="fc-7", signature="c2ln")]
    assert contents[2]["parts"][0]["functionResponse"]["id"] == "fc-7"


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "error"),
        ("MISSING_THOUGHT_SIGNATURE", "error"),
        ("OTHER", "error"),
        ("SOMETHING_NEW", "error"),
    ],
)
def test_finish_reasons_map_to_openai_finish_reasons(reason, expected) -> None:
    result = gemini.parse_chat(google(), orjson.dumps(answer(finish=reason)))
    assert result.finish_reason == expected


def test_a_blocked_prompt_is_a_content_filter_error() -> None:
    with pytest.raises(ContentFilteredError) as caught:
        gemini.parse_chat(google(), orjson.dumps(blocked("PROHIBITED_CONTENT")))
    assert caught.value.vendor_code == "PROHIBITED_CONTENT"


def test_an_answer_without_usage_is_unreported() -> None:
    assert gemini.parse_chat(google(), orjson.dumps(answer())).usage is UNREPORTED


def test_an_unreadable_answer_is_a_protocol_error() -> None:
    with pytest.raises(UpstreamProtocolError, match=r"\[acme\] unreadable chat"):
        gemini.parse_chat(google(), b'{"candidates": [{"content": {"parts": [{"functionCall": {}}]}}]}')


# --- streams -----------------------------------------------------------------------------------------------------


def events(*payloads) -> list[ServerSentEvent]:
    return [ServerSentEvent(orjson.dumps(p)) for p in payloads]


def test_stream_events_become_text_reasoning_and_usage_chunks() -> None:
    parser = gemini.chat_stream_parser(google())
    chunks = [
        parser.feed(e)
        for e in events(
            answer(text_part("Hmm", thought=True), finish=None, tokens=usage(9, 0, thoughts=2)),
            answer(text_part("Hel"), finish=None, tokens=usage(9, 1, thoughts=2)),
            answer(text_part("lo!"), finish="STOP", tokens=usage(9, 3, thoughts=2)),
        )
    ]

    assert [(c.reasoning, c.content) for c in chunks] == [("Hmm", ""), ("", "Hel"), ("", "lo!")]
    assert [c.finish_reason for c in chunks] == [None, None, "stop"]
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (9, 5)


def test_streamed_function_calls_each_get_their_own_index() -> None:
    parser = gemini.chat_stream_parser(google())
    first, second = (
        parser.feed(e)
        for e in events(
            answer(call_part("get_weather", {"city": "Oslo"}, id="a", signature="c2ln"), finish=None),
            answer(call_part("get_weather", {"city": "Rome"}), call_part("get_time", {}), finish="STOP"),
        )
    )

    assert first.tool_calls == (ToolCallDelta(0, "a__thought__c2ln", "get_weather", '{"city":"Oslo"}'),)
    assert second.tool_calls == (
        ToolCallDelta(1, "call_1", "get_weather", '{"city":"Rome"}'),
        ToolCallDelta(2, "call_2", "get_time", "{}"),
    )
    assert second.finish_reason == "tool_calls"


def test_an_error_inside_the_stream_raises_with_its_own_status() -> None:
    parser = gemini.chat_stream_parser(google())
    assert parser.feed(events(answer(text_part("Hel"), finish=None))[0]).content == "Hel"
    with pytest.raises(UpstreamUnavailableError) as caught:
        parser.feed(events(status_error(503, "UNAVAILABLE", "The model is overloaded."))[0])
    assert caught.value.status_code == 503


def test_a_blocked_prompt_in_a_stream_is_a_content_filter_error() -> None:
    with pytest.raises(ContentFilteredError):
        gemini.chat_stream_parser(google()).feed(events(blocked())[0])


def test_the_fake_stream_framing_decodes_to_one_event_per_answer() -> None:
    from modelyard.protocols.sse import SSEDecoder

    decoded = SSEDecoder().feed(sse(answer(text_part("a"), finish=None), answer(text_part("b"))))
    assert [gemini.chat_stream_parser(google()).feed(e).content for e in decoded] == ["a", "b"]


# --- embeddings and models ---------------------------------------------------------------------------------------


def test_embeddings_go_one_request_per_text_with_task_type_and_dimensions() -> None:
    embedder = google("text-embedding", model_id="gemini-embedding-001", properties={"supports_dimensions": True})
    upstream = gemini.build_embeddings(embedder, EmbeddingRequest(("a", "b"), dimensions=256, input_type="query"))

    assert (
        upstream.url
        == "https://generativelanguage.googleapis.com/v1beta/models/gemini-embedding-001:batchEmbedContents"
    )
    assert body_of(upstream) == {
        "requests": [
            {
                "content": {"role": "user", "parts": [{"text": text}]},
                "taskType": "RETRIEVAL_QUERY",
                "outputDimensionality": 256,
                "model": "models/gemini-embedding-001",
            }
            for text in ("a", "b")
        ]
    }


def test_vertex_batches_nest_the_options_and_classic_models_use_predict() -> None:
    base = "https://fake.test/v1/projects/p/locations/us-central1/publishers/google"
    props = {"supports_dimensions": True}
    batch = google("text-embedding", model_id="gemini-embedding-001", quirks=VERTEX, base_url=base, properties=props)
    classic = google("text-embedding", model_id="text-embedding-005", quirks=VERTEX, base_url=base, properties=props)
    request = EmbeddingRequest(("a", "b"), dimensions=64, input_type="document")

    assert body_of(gemini.build_embeddings(batch, request)) == {
        "requests": [
            {
                "content": {"role": "user", "parts": [{"text": text}]},
                "embedContentConfig": {"taskType": "RETRIEVAL_DOCUMENT", "outputDimensionality": 64},
            }
            for text in ("a", "b")
        ]
    }
    predict = gemini.build_embeddings(classic, request)
    assert predict.url == f"{base}/models/text-embedding-005:predict"
    assert body_of(predict) == {
        "instances": [
            {"content": "a", "task_type": "RETRIEVAL_DOCUMENT"},
            {"content": "b", "task_type": "RETRIEVAL_DOCUMENT"},
        ],
        "parameters": {"outputDimensionality": 64},
    }


def test_dimensions_are_refused_for_a_model_that_has_fixed_ones() -> None:
    with pytest.raises(UnsupportedFeatureError):
        gemini.build_embeddings(google("text-embedding"), EmbeddingRequest(("a",), dimensions=8))


def test_embeddings_are_read_with_the_usage_reported() -> None:
    embedder = google("text-embedding", model_id="gemini-embedding-001")
    batch = {"embeddings": [{"values": [0.1, 0.2]}, {"values": [0.3, 0.4]}], "usageMetadata": {"promptTokenCount": 4}}
    predict = {
        "predictions": [
            {"embeddings": {"values": [1, 2], "statistics": {"token_count": 3, "truncated": False}}},
            {"embeddings": {"values": [3, 4], "statistics": {"token_count": 2, "truncated": False}}},
        ]
    }

    read = gemini.parse_embeddings(embedder, orjson.dumps(batch))
    assert read.vectors == ([0.1, 0.2], [0.3, 0.4])
    assert read.usage.prompt_tokens == 4
    predicted = gemini.parse_embeddings(embedder, orjson.dumps(predict))
    assert predicted.vectors == ([1.0, 2.0], [3.0, 4.0])
    assert predicted.usage.prompt_tokens == 5
    assert gemini.parse_embeddings(embedder, b'{"embeddings": [{"values": [1]}]}').usage is UNREPORTED


def test_remote_models_are_listed_without_their_prefix() -> None:
    assert (
        gemini.build_list_models(google()).url
        == "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000"
    )
    listed = gemini.parse_list_models(google(), b'{"models": [{"name": "models/gemini-2.5-flash"}]}')
    assert [m.id for m in listed] == ["gemini-2.5-flash"]


# --- errors ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "reason", "expected", "retryable"),
    [
        (400, "INVALID_ARGUMENT", "API_KEY_INVALID", UpstreamAuthError, False),
        (400, "INVALID_ARGUMENT", None, UpstreamBadRequestError, False),
        (400, "FAILED_PRECONDITION", None, UpstreamBadRequestError, False),
        (401, "UNAUTHENTICATED", "ACCESS_TOKEN_EXPIRED", UpstreamAuthError, False),
        (403, "PERMISSION_DENIED", None, UpstreamAuthError, False),
        (404, "NOT_FOUND", None, UpstreamBadRequestError, False),
        (429, "RESOURCE_EXHAUSTED", None, UpstreamRateLimitError, True),
        (499, "CANCELLED", None, UpstreamConnectionError, True),
        (500, "INTERNAL", None, UpstreamUnavailableError, True),
        (503, "UNAVAILABLE", None, UpstreamUnavailableError, True),
        (504, "DEADLINE_EXCEEDED", None, UpstreamUnavailableError, True),
    ],
)
def test_every_documented_status_maps_into_the_hierarchy(code, status, reason, expected, retryable) -> None:
    body = orjson.dumps(status_error(code, status, "Something happened", reason=reason))
    error = gemini.parse_error(google(), code, {}, body)
    assert type(error) is expected
    assert error.is_retryable is retryable
    assert error.vendor_code == (reason or status)


def test_a_rate_limit_carries_the_retry_delay_google_suggests() -> None:
    body = orjson.dumps(status_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded", retry_delay="12.5s"))
    assert gemini.parse_error(google(), 429, {}, body).retry_after_s == 12.5
    plain = orjson.dumps(status_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded"))
    assert gemini.parse_error(google(), 429, {"Retry-After": "7"}, plain).retry_after_s == 7


def test_an_error_wrapped_in_an_array_or_not_json_is_still_read() -> None:
    wrapped = orjson.dumps([status_error(403, "PERMISSION_DENIED", "Denied")])
    assert isinstance(gemini.parse_error(google(), 403, {}, wrapped), UpstreamAuthError)
    html = gemini.parse_error(google(), 502, {}, b"<html>Bad Gateway</html>")
    assert isinstance(html, UpstreamUnavailableError)
    assert "Bad Gateway" in str(html)


def test_the_key_never_appears_in_an_error_message() -> None:
    body = orjson.dumps(status_error(400, "INVALID_ARGUMENT", f"API key {KEY} not valid.", reason="API_KEY_INVALID"))
    error = gemini.parse_error(google(), 400, {}, body)
    assert KEY not in str(error)
    assert str(error).startswith("[acme] credentials refused")
