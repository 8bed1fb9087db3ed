"""Triton's generate extension, on bytes against the documented shapes (no SDK speaks this route), and through the
runtime against the fake: parameter placement, model versions, cumulative streams, and errors inside a 200."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest

from modelyard.errors import (
    UnsupportedFeatureError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamUnavailableError,
)
from modelyard.protocols.sse import ServerSentEvent
from modelyard.protocols.triton import Triton
from modelyard.types import ChatRequest, ImagePart, Message, ResponseFormat, TextPart, Tool
from modelyard.types.usage import UNREPORTED
from tests.fakes.registry import FAKES, serving
from tests.fakes.triton import FakeTriton, output
from tests.protocols.targets import target

protocol = Triton()
PROVIDER = "triton_inference_server"


def triton_target(**credentials: str):
    return target(
        model_id="ensemble",
        protocol="triton",
        base_url="http://triton.test:8000",
        credentials={"server_url": "http://triton.test:8000", **credentials},
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeTriton]:
    async with serving(FAKES["triton"]) as upstream:
        yield upstream


def test_sampling_parameters_go_in_parameters_by_default() -> None:
    request = ChatRequest(messages=(Message.user("Hi"),), max_tokens=64, temperature=0.2, top_p=0.9, seed=7)
    sent = protocol.build_chat(triton_target(), request, stream=False)
    assert sent.url == "http://triton.test:8000/v2/models/ensemble/generate"
    assert orjson.loads(sent.body) == {
        "text_input": "Hi",
        "parameters": {"stream": False, "max_tokens": 64, "temperature": 0.2, "top_p": 0.9, "seed": 7},
    }


def test_tensorrt_ensembles_take_them_at_the_top_level_and_versions_have_their_own_url() -> None:
    request = ChatRequest(messages=(Message.system("Be brief."), Message.user("Hi")), max_tokens=8)
    sent = protocol.build_chat(triton_target(parameter_style="top_level", model_version="3"), request, stream=True)
    assert sent.url == "http://triton.test:8000/v2/models/ensemble/versions/3/generate_stream"
    assert orjson.loads(sent.body) == {"text_input": "Be brief.\n\nHi", "stream": True, "max_tokens": 8}


def test_a_conversation_becomes_a_transcript_ending_where_the_assistant_speaks() -> None:
    request = ChatRequest(messages=(Message.user("Hi"), Message.assistant("Hello!"), Message.user("Name a colour")))
    body = orjson.loads(protocol.build_chat(triton_target(), request, stream=False).body)
    assert body["text_input"] == "User: Hi\n\nAssistant: Hello!\n\nUser: Name a colour\n\nAssistant:"


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (ChatRequest(messages=(Message.user("Hi"),), tools=(Tool("f", "", {"type": "object"}),)), "tools"),
        (ChatRequest(messages=(Message.user("Hi"),), stop=("\n",)), "stop"),
        (
            ChatRequest(messages=(Message.user("Hi"),), response_format=ResponseFormat("json_object")),
            "response_format",
        ),
        (
            ChatRequest(messages=(Message.user([TextPart("What?"), ImagePart("data:image/png;base64,AA==")]),)),
            "messages",
        ),
    ],
)
def test_what_the_route_cannot_carry_is_refused_naming_the_field(request_: ChatRequest, field: str) -> None:
    with pytest.raises(UnsupportedFeatureError) as refused:
        protocol.build_chat(triton_target(), request_, stream=False)
    assert refused.value.field == field


def test_an_answer_has_text_but_no_usage_or_stop_reason() -> None:
    result = protocol.parse_chat(triton_target(), orjson.dumps(output("Hello!")))
    assert (result.content, result.finish_reason, result.usage) == ("Hello!", "stop", UNREPORTED)


def test_an_error_inside_a_200_answer_is_an_error() -> None:
    with pytest.raises(UpstreamError, match="out of memory"):
        protocol.parse_chat(triton_target(), b'{"error": "CUDA out of memory"}')


def test_a_cumulative_stream_is_diffed_into_increments() -> None:
    parser = protocol.chat_stream_parser(triton_target(stream_output="cumulative"))
    texts = [
        chunk.content
        for text in ("Hel", "Hello", "Hello!")
        if (chunk := parser.feed(ServerSentEvent(data=orjson.dumps(output(text))))) is not None
    ]
    assert texts == ["Hel", "lo", "!"]


async def test_streamed_in_tiny_pieces_through_the_runtime(runtime, fake) -> None:
    fake.stream_outputs("Bon", "jour", " !", piece_size=5)
    stream = await runtime.chat(
        provider=PROVIDER,
        model="ensemble",
        credentials={"server_url": fake.url},
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
    )
    result = await stream.collect()
    assert (result.content, result.finish_reason) == ("Bonjour !", "stop")
    assert result.usage.completion_tokens > 0  # estimated: Triton reports none
    assert fake.last.path == "/v2/models/ensemble/generate_stream"


async def test_an_error_event_inside_the_stream_reaches_the_caller(runtime, fake) -> None:
    fake.stream(b'data:{"text_output": "Hel"}\n\ndata:{"error": "model instance crashed"}\n\n')
    stream = await runtime.chat(
        provider=PROVIDER,
        model="ensemble",
        credentials={"server_url": fake.url},
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
    )
    with pytest.raises(UpstreamError, match="model instance crashed"):
        await stream.collect()


@pytest.mark.parametrize(("status", "error"), [(400, UpstreamBadRequestError), (503, UpstreamUnavailableError)])
async def test_http_errors_map_by_status(runtime, fake, status: int, error: type[Exception]) -> None:
    fake.fail_triton(status, "Request for unknown model: 'ensemble' is not found")
    with pytest.raises(error, match="unknown model"):
        await runtime.chat(
            provider=PROVIDER,
            model="ensemble",
            credentials={"server_url": fake.url},
            messages=[{"role": "user", "content": "Hi"}],
        )
