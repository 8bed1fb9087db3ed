from __future__ import annotations

import orjson
import pytest

from modelyard.errors import UnsupportedFeatureError
from modelyard.protocols.base import Multipart
from modelyard.protocols.openai import OpenAI, OpenAIQuirks
from modelyard.types import (
    ChatRequest,
    EmbeddingRequest,
    ImagePart,
    Message,
    RerankRequest,
    ResponseFormat,
    SpeechRequest,
    TextPart,
    Tool,
    ToolCall,
    TranscriptionRequest,
)
from modelyard.types.chat import NamedToolChoice
from tests.protocols.targets import target

openai = OpenAI()


def body_of(request) -> dict:
    return orjson.loads(request.body)


def test_chat_request_carries_messages_tools_and_sampling_parameters() -> None:
    request = ChatRequest(
        messages=(
            Message.system("Be brief."),
            Message.user([TextPart("What is here?"), ImagePart("data:image/png;base64,iVBOR", detail="low")]),
            Message.assistant("", [ToolCall("call_1", "lookup", '{"q":"x"}')]),
            Message.tool("call_1", "found"),
        ),
        tools=(Tool("lookup", "Look things up", {"type": "object", "properties": {"q": {"type": "string"}}}),),
        tool_choice=NamedToolChoice("lookup"),
        temperature=0.2,
        max_tokens=50,
        stop=("END",),
        seed=7,
        response_format=ResponseFormat("json_schema", "answer", {"type": "object"}, strict=True),
    )
    upstream = openai.build_chat(target(), request, stream=False)

    assert upstream.method == "POST"
    assert upstream.url == "https://api.acme.test/v1/chat/completions"
    assert body_of(upstream) == {
        "model": "acme-1",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is here?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR", "detail": "low"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q":"x"}'}},
                ],
            },
            {"role": "tool", "content": "found", "tool_call_id": "call_1"},
        ],
        "temperature": 0.2,
        "max_tokens": 50,
        "stop": ["END"],
        "seed": 7,
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "lookup",
                    "description": "Look things up",
                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                },
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "lookup"}},
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True},
        },
    }


def test_streamed_chat_asks_for_usage_unless_the_server_refuses_stream_options() -> None:
    request = ChatRequest.user_text("Hi")
    assert body_of(openai.build_chat(target(), request, stream=True))["stream_options"] == {"include_usage": True}
    refusing = target(quirks=OpenAIQuirks(supports_stream_options=False))
    assert "stream_options" not in body_of(openai.build_chat(refusing, request, stream=True))


def test_quirks_rename_fields_the_vendor_spells_differently() -> None:
    quirks = OpenAIQuirks(max_tokens_field="max_completion_tokens", seed_field="random_seed")
    body = body_of(
        openai.build_chat(
            target(quirks=quirks), ChatRequest(messages=(Message.user("Hi"),), max_tokens=9, seed=3), stream=False
        )
    )
    assert body["max_completion_tokens"] == 9
    assert body["random_seed"] == 3
    assert "max_tokens" not in body and "seed" not in body


def test_extra_parameters_pass_through_and_override() -> None:
    request = ChatRequest(messages=(Message.user("Hi"),), temperature=1.0, extra={"top_k": 5, "temperature": 0.5})
    body = body_of(openai.build_chat(target(), request, stream=False))
    assert body["top_k"] == 5
    assert body["temperature"] == 0.5


@pytest.mark.parametrize(
    ("replay", "expected"),
    [("never", [None, None]), ("with-tool-calls", ["thought", None]), ("always", ["thought", "more"])],
)
def test_reasoning_goes_back_only_as_the_provider_wants(replay: str, expected: list[str | None]) -> None:
    messages = (
        Message.user("Hi"),
        Message.assistant("", [ToolCall("c1", "f", "{}")], reasoning="thought"),
        Message.tool("c1", "ok"),
        Message.assistant("done", reasoning="more"),
        Message.user("again"),
    )
    quirks = OpenAIQuirks(reasoning_replay=replay)  # type: ignore[arg-type]
    body = body_of(openai.build_chat(target(quirks=quirks), ChatRequest(messages=messages), stream=False))
    assert [body["messages"][1].get("reasoning_content"), body["messages"][3].get("reasoning_content")] == expected


def test_azure_puts_the_deployment_in_the_path_with_the_api_version() -> None:
    quirks = OpenAIQuirks(url_style="azure-deployment", api_version_credential="openai_api_version")
    azure = target(
        quirks=quirks,
        base_url="https://res.openai.azure.com/openai",
        upstream_model="my-gpt",
        credentials={"api_key": "k", "openai_api_version": "2025-04-01-preview"},
    )
    upstream = openai.build_chat(azure, ChatRequest.user_text("Hi"), stream=False)
    assert upstream.url == (
        "https://res.openai.azure.com/openai/deployments/my-gpt/chat/completions?api-version=2025-04-01-preview"
    )
    embed = openai.build_embeddings(azure, EmbeddingRequest(("a",)))
    assert embed.url.startswith("https://res.openai.azure.com/openai/deployments/my-gpt/embeddings?api-version=")


def test_embeddings_request_dimensions_only_from_models_that_take_them() -> None:
    sized = target("text-embedding", properties={"supports_dimensions": True})
    body = body_of(openai.build_embeddings(sized, EmbeddingRequest(("a", "b"), dimensions=256)))
    assert body == {"model": "acme-1", "input": ["a", "b"], "encoding_format": "float", "dimensions": 256}
    with pytest.raises(UnsupportedFeatureError, match="dimensions"):
        openai.build_embeddings(target("text-embedding"), EmbeddingRequest(("a",), dimensions=256))


def test_retrieval_embedders_get_their_input_type_words() -> None:
    quirks = OpenAIQuirks(embedding_input_types={"query": "query", "document": "passage"})
    body = body_of(openai.build_embeddings(target("text-embedding", quirks=quirks), EmbeddingRequest(("a",))))
    assert body["input_type"] == "passage"
    request = EmbeddingRequest(("a",), input_type="query")
    assert body_of(openai.build_embeddings(target("text-embedding", quirks=quirks), request))["input_type"] == "query"


def test_rerank_uses_the_cohere_jina_dialect() -> None:
    upstream = openai.build_rerank(target("rerank"), RerankRequest("q", ("d1", "d2"), top_n=1))
    assert upstream.url == "https://api.acme.test/v1/rerank"
    assert body_of(upstream) == {
        "model": "acme-1",
        "query": "q",
        "documents": ["d1", "d2"],
        "return_documents": False,
        "top_n": 1,
    }


def test_transcription_is_a_multipart_upload() -> None:
    upstream = openai.build_transcription(target("speech2text"), TranscriptionRequest(b"RIFF", "a.wav", "en"))
    assert isinstance(upstream.body, Multipart)
    assert upstream.body.fields == {"model": "acme-1", "response_format": "json", "language": "en"}
    audio = upstream.body.files["file"]
    assert (audio.filename, audio.content, audio.content_type) == ("a.wav", b"RIFF", "audio/x-wav")


def test_speech_falls_back_to_the_models_default_voice() -> None:
    tts = target("tts", properties={"default_voice": "nova", "voices": [{"id": "nova", "name": "Nova"}]})
    body = body_of(openai.build_speech(tts, SpeechRequest("Hello", format="wav", speed=1.5)))
    assert body == {"model": "acme-1", "input": "Hello", "voice": "nova", "response_format": "wav", "speed": 1.5}
