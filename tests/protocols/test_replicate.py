"""Replicate's predictions: translation on bytes, polling and streaming through the runtime's follow-up hook, and the
fake and our requests held to the `replicate` SDK (create, poll, stream)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest
import replicate
from msgspec.structs import replace
from replicate.exceptions import ModelError, ReplicateError

from modelyard.errors import (
    InvalidRequestError,
    ProviderQuotaExhaustedError,
    UnsupportedFeatureError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
)
from modelyard.protocols.replicate import Replicate, ReplicateQuirks
from modelyard.protocols.sse import SSEDecoder
from modelyard.runtime import Runtime
from modelyard.runtime.transport import Timeouts
from modelyard.types import ChatRequest, EmbeddingRequest, ImagePart, Message, TextPart, Tool
from modelyard.types.usage import UNREPORTED
from tests.capabilities import prove
from tests.fakes.registry import FAKES, serving
from tests.fakes.replicate import VERSION, FakeReplicate, stream_body
from tests.protocols.targets import target
from tests.support import SECRET

protocol = Replicate()
LLAMA = "meta/meta-llama-3-8b-instruct"
PIXEL = "data:image/png;base64,iVBORw0KGgo="


def replicate_target(model_type: str = "llm", model_id: str = LLAMA, **credentials: str):
    return target(
        model_type,
        model_id=model_id,
        protocol="replicate",
        base_url="https://api.replicate.com/v1",
        credentials={"replicate_api_token": SECRET, **credentials},
        quirks=ReplicateQuirks(poll_interval_s=0),
    )


def prediction(status: str, output=None, **fields) -> bytes:
    urls = {"get": "https://api.replicate.com/v1/predictions/p1", "stream": "https://stream.replicate.com/v1/p1"}
    return orjson.dumps({"id": "p1", "status": status, "output": output, "urls": urls, **fields})


@pytest.fixture
async def fake() -> AsyncIterator[FakeReplicate]:
    async with serving(FAKES["replicate"]) as upstream:
        yield upstream


@pytest.fixture
def credentials() -> dict[str, str]:
    return {"replicate_api_token": SECRET, "vision_support": "support"}


@pytest.fixture
def api(fake) -> str:
    """Where the runtime reaches the fake: every runtime call in this module passes it, never api.replicate.com."""
    return f"{fake.url}/v1"


@pytest.fixture
async def sdk(fake) -> AsyncIterator[replicate.Client]:
    client = replicate.Client(api_token=SECRET, base_url=fake.url)
    client.poll_interval = 0.01
    yield client
    # The SDK offers no close; its pooled httpx client would outlive this test's event loop and leak sockets.
    await client._async_client.aclose()


def assert_same_request(fake) -> None:
    theirs, ours = [r for r in fake.requests if r.method == "POST"][-2:]
    assert ours.path == theirs.path
    assert ours.json == theirs.json
    assert ours.headers.get("prefer") == theirs.headers.get("prefer")
    assert ours.headers["authorization"] == theirs.headers["authorization"]


# --- requests on bytes -------------------------------------------------------------------------------------------


def test_an_official_model_runs_by_name_and_waits() -> None:
    request = ChatRequest(
        messages=(Message.system("Be brief."), Message.user("Hi")),
        max_tokens=50,
        temperature=0.6,
        stop=("END", "STOP"),
        extra={"min_tokens": 2},
    )
    sent = protocol.build_chat(replicate_target(), request, stream=False)
    assert sent.url == f"https://api.replicate.com/v1/models/{LLAMA}/predictions"
    assert sent.headers["Prefer"] == "wait"
    assert orjson.loads(sent.body) == {
        "input": {
            "prompt": "Hi",
            "system_prompt": "Be brief.",
            "max_tokens": 50,
            "temperature": 0.6,
            "stop_sequences": "END,STOP",
            "min_tokens": 2,
        }
    }


def test_a_pinned_version_runs_at_predictions_and_a_stream_does_not_wait() -> None:
    sent = protocol.build_chat(replicate_target(model_version=VERSION), ChatRequest.user_text("Hi"), stream=True)
    assert sent.url == "https://api.replicate.com/v1/predictions"
    assert "Prefer" not in sent.headers
    assert orjson.loads(sent.body) == {"input": {"prompt": "Hi"}, "version": VERSION, "stream": True}
    inline = protocol.build_chat(
        replicate_target(model_id=f"acme/llm:{VERSION}"), ChatRequest.user_text("Hi"), stream=False
    )
    assert orjson.loads(inline.body)["version"] == VERSION


@pytest.mark.parametrize(("model_id", "version"), [("no-owner", ""), (LLAMA, "not-hex"), (f"{LLAMA}:abc", "")])
def test_a_model_that_is_neither_owner_name_nor_a_version_is_refused(model_id, version) -> None:
    with pytest.raises(InvalidRequestError):
        protocol.build_chat(
            replicate_target(model_id=model_id, model_version=version), ChatRequest.user_text("Hi"), stream=False
        )


def test_one_image_goes_in_the_image_input_and_tools_are_refused() -> None:
    looking = ChatRequest(messages=(Message.user([TextPart("What is this?"), ImagePart(PIXEL)]),))
    assert orjson.loads(protocol.build_chat(replicate_target(), looking, stream=False).body)["input"] == {
        "prompt": "What is this?",
        "image": PIXEL,
    }
    with pytest.raises(UnsupportedFeatureError):
        protocol.build_chat(
            replicate_target(), ChatRequest(messages=(Message.user("?"),), tools=(Tool("f"),)), stream=False
        )


def test_embedders_get_texts_as_a_json_list_in_a_string() -> None:
    sent = protocol.build_embeddings(
        replicate_target("text-embedding", "nateraw/bge-large-en-v1.5"), EmbeddingRequest(("a", "b"))
    )
    assert orjson.loads(sent.body) == {"input": {"texts": '["a","b"]'}}


# --- the follow-up hook -----------------------------------------------------------------------------------------


def test_a_running_prediction_is_polled_and_a_finished_one_is_final() -> None:
    step = protocol.follow_up(replicate_target(), prediction("processing"), stream=False)
    assert step is not None and step.request.method == "GET"
    assert step.request.url == "https://api.replicate.com/v1/predictions/p1"
    assert protocol.follow_up(replicate_target(), prediction("succeeded", ["Hi"]), stream=False) is None
    assert protocol.follow_up(replicate_target(), prediction("failed"), stream=False) is None  # parse_* raises


def test_a_stream_is_read_from_the_announced_url() -> None:
    step = protocol.follow_up(replicate_target(), prediction("starting"), stream=True)
    assert step is not None
    assert (step.request.url, step.request.headers["Accept"]) == (
        "https://stream.replicate.com/v1/p1",
        "text/event-stream",
    )


def test_output_pieces_are_joined_and_metrics_are_usage() -> None:
    body = prediction("succeeded", ["Hel", "lo", "!"], metrics={"input_token_count": 12, "output_token_count": 3})
    result = protocol.parse_chat(replicate_target(), body)
    assert (result.content, result.finish_reason) == ("Hello!", "stop")
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (12, 3)
    assert protocol.parse_chat(replicate_target(), prediction("succeeded", "Plain")).usage is UNREPORTED


def test_a_failed_prediction_is_a_non_retryable_upstream_error() -> None:
    with pytest.raises(UpstreamError, match="the prediction failed: CUDA out of memory") as caught:
        protocol.parse_chat(replicate_target(), prediction("failed", error="CUDA out of memory"))
    assert not caught.value.is_retryable


def test_stream_events_give_text_and_end_at_done() -> None:
    body = stream_body([("output", "Hel"), ("logs", "step 1"), ("output", "lo\nworld"), ("done", "{}")])
    decoder, parser = SSEDecoder(), protocol.chat_stream_parser(replicate_target())
    chunks = [parser.feed(e) for i in range(0, len(body), 6) for e in decoder.feed(body[i : i + 6])]
    chunks = [c for c in chunks if c is not None]
    assert "".join(c.content for c in chunks) == "Hello\nworld"
    assert chunks[-1].finish_reason == "stop"
    assert parser.finished


@pytest.mark.parametrize("events", [[("error", '{"detail": "boom"}')], [("done", '{"reason": "canceled"}')]])
def test_stream_errors_and_cancels_raise(events) -> None:
    parser = protocol.chat_stream_parser(replicate_target())
    with pytest.raises(UpstreamError):
        for event in SSEDecoder().feed(stream_body(events)):
            parser.feed(event)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, UpstreamAuthError),
        (402, ProviderQuotaExhaustedError),
        (404, UpstreamBadRequestError),
        (422, UpstreamBadRequestError),
        (429, UpstreamRateLimitError),
    ],
)
def test_problem_details_map_by_status(status, expected) -> None:
    body = orjson.dumps({"type": "about:blank", "title": "Nope", "status": status, "detail": "You did a thing"})
    error = protocol.parse_error(replicate_target(), status, {"Retry-After": "3"}, body)
    assert type(error) is expected
    assert "You did a thing" in str(error)


# --- through the runtime, held to the SDK -------------------------------------------------------------------------


async def test_waited_prediction_request_matches_the_sdk(sdk, fake, runtime, credentials, api) -> None:
    model_input = {"prompt": "Hi", "system_prompt": "Be brief.", "max_tokens": 100, "temperature": 0.5, "seed": 3}
    output = await sdk.async_run(LLAMA, input=model_input)
    assert "".join(output) == "Hello!"
    result = await runtime.chat(
        provider="replicate",
        base_url=api,
        model=LLAMA,
        credentials=credentials,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        max_tokens=100,
        temperature=0.5,
        seed=3,
    )
    assert_same_request(fake)
    assert result.content == "Hello!"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (9, 3)


async def test_a_pinned_version_request_matches_the_sdk(sdk, fake, runtime, credentials, api) -> None:
    created = await sdk.predictions.async_create(version=VERSION, input={"prompt": "Hi"}, wait=True)
    assert created.status == "succeeded"
    await runtime.chat(
        provider="replicate",
        base_url=api,
        model="acme/pinned",
        credentials={**credentials, "model_version": VERSION},
        messages=[{"role": "user", "content": "Hi"}],
    )
    assert_same_request(fake)


async def test_a_prediction_still_running_is_polled_until_it_finishes(sdk, fake, runtime, credentials, api) -> None:
    fake.plan(polls=2, output=["Slow ", "answer"])
    assert "".join(await sdk.async_run(LLAMA, input={"prompt": "Hi"})) == "Slow answer"
    fake.plan(polls=2, output=["Slow ", "answer"])
    target = runtime.target("replicate", LLAMA, "llm", credentials, base_url=api)
    result = await runtime.invoke_chat(
        replace(target, quirks=ReplicateQuirks(poll_interval_s=0)), ChatRequest.user_text("Hi"), stream=False
    )
    assert result.content == "Slow answer"
    # starting (the create), processing twice, then succeeded
    assert [r.method for r in fake.requests[-4:]] == ["POST", "GET", "GET", "GET"]


async def test_polling_stops_at_the_calls_deadline(fake, credentials, api) -> None:
    fake.plan(polls=10**9)
    async with Runtime(timeouts=Timeouts(total_s=0.5)) as runtime:
        target = runtime.target("replicate", LLAMA, "llm", credentials, base_url=api)
        with pytest.raises(UpstreamTimeoutError, match="did not finish"):
            await runtime.invoke_chat(
                replace(target, quirks=ReplicateQuirks(poll_interval_s=0.05)), ChatRequest.user_text("Hi"), stream=False
            )


async def test_stream_request_matches_the_sdk_which_parses_the_fakes_events(
    sdk, fake, runtime, credentials, api
) -> None:
    events = [event async for event in await sdk.async_stream(LLAMA, input={"prompt": "Hi", "max_tokens": 20})]
    assert "".join(str(e) for e in events) == "Hello!"
    assert events[-1].event.value == "done"
    stream = await runtime.chat(
        provider="replicate",
        base_url=api,
        model=LLAMA,
        credentials=credentials,
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=20,
        stream=True,
    )
    result = await stream.collect()
    assert_same_request(fake)
    assert fake.requests[-1].headers["accept"] == "text/event-stream"
    assert fake.requests[-1].headers["authorization"] == f"Bearer {SECRET}"  # the stream URL is signed too
    assert (result.content, result.finish_reason) == ("Hello!", "stop")
    prove("replicate", "llm", "streaming")


async def test_vision_input_reaches_the_model(fake, runtime, credentials, api) -> None:
    messages = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "What?"}, {"type": "image_url", "image_url": {"url": PIXEL}}],
        }
    ]
    result = await runtime.chat(
        provider="replicate", base_url=api, model="yorickvp/llava-13b", credentials=credentials, messages=messages
    )
    assert result.content == "Hello!"
    assert fake.requests[-1].json["input"]["image"] == PIXEL
    prove("replicate", "llm", "vision")


async def test_embeddings_request_matches_the_sdk(sdk, fake, runtime, credentials, api) -> None:
    model = "nateraw/bge-large-en-v1.5"
    created = await sdk.models.predictions.async_create(model=model, input={"texts": '["a","b"]'}, wait=True)
    assert len(created.output) == 2
    result = await runtime.embed(
        provider="replicate", base_url=api, model=model, credentials=credentials, texts=["a", "b"]
    )
    assert_same_request(fake)
    assert [len(v) for v in result.vectors] == [4, 4]


async def test_failures_reach_the_sdk_and_us_alike(sdk, fake, runtime, credentials, api) -> None:
    for _ in range(2):
        fake.plan(status="failed", error="CUDA out of memory")
    with pytest.raises(ModelError, match="CUDA out of memory"):
        await sdk.async_run(LLAMA, input={"prompt": "Hi"})
    with pytest.raises(UpstreamError, match="CUDA out of memory"):
        await runtime.chat(
            provider="replicate",
            base_url=api,
            model=LLAMA,
            credentials=credentials,
            messages=[{"role": "user", "content": "Hi"}],
        )
    fake.fail_problem(422, "- input.max_tokens: Must be less than or equal to 4096", title="Input validation failed")
    with pytest.raises(ReplicateError) as caught:
        await sdk.async_run(LLAMA, input={"prompt": "Hi", "max_tokens": 99999})
    assert caught.value.status == 422
    fake.fail_problem(429, "Request was throttled.", headers={"Retry-After": "4"})
    with pytest.raises(UpstreamRateLimitError) as limited:
        await runtime.chat(
            provider="replicate",
            base_url=api,
            model=LLAMA,
            credentials=credentials,
            messages=[{"role": "user", "content": "Hi"}],
        )
    assert limited.value.retry_after_s == 4


async def test_a_stream_error_event_reaches_the_sdk_and_us(sdk, fake, runtime, credentials, api) -> None:
    for _ in range(2):
        fake.plan(events=[("output", "Hel"), ("error", '{"detail": "model crashed"}')])
    with pytest.raises(RuntimeError, match="model crashed"):
        async for _ in await sdk.async_stream(LLAMA, input={"prompt": "Hi"}):
            pass
    stream = await runtime.chat(
        provider="replicate",
        base_url=api,
        model=LLAMA,
        credentials=credentials,
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
    )
    with pytest.raises(UpstreamError, match="model crashed"):
        await stream.collect()
