"""Hugging Face (router, Inference Endpoints, TGI native): translation on bytes, and the fake and our requests held
to the `huggingface_hub` SDK's AsyncInferenceClient."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest
from huggingface_hub import AsyncInferenceClient
from huggingface_hub.errors import OverloadedError, ValidationError
from huggingface_hub.inference._providers import hf_inference

from modelyard.errors import (
    ContextLengthExceededError,
    UnsupportedFeatureError,
    UpstreamBadRequestError,
    UpstreamProtocolError,
    UpstreamRateLimitError,
    UpstreamUnavailableError,
)
from modelyard.protocols.huggingface import HuggingFace, HuggingFaceQuirks
from modelyard.protocols.sse import SSEDecoder
from modelyard.types import ChatRequest, EmbeddingRequest, Message, Tool
from modelyard.types.chat import ResponseFormat
from modelyard.types.usage import UNREPORTED
from tests.capabilities import prove
from tests.fakes.huggingface import FakeHuggingFace, generated, sse_data, stream_events
from tests.fakes.registry import FAKES, serving
from tests.protocols.targets import target
from tests.support import SECRET

protocol = HuggingFace()


def hf_target(model_type: str = "llm", api_type: str = "tgi", base_url: str = "https://tgi.test", **overrides):
    credentials = {"api_token": SECRET, "api_type": api_type}
    return target(
        model_type,
        protocol="huggingface",
        base_url=base_url,
        credentials=credentials,
        quirks=HuggingFaceQuirks(),
        **overrides,
    )


def body_of(request) -> dict:
    return orjson.loads(request.body)


@pytest.fixture
async def fake() -> AsyncIterator[FakeHuggingFace]:
    async with serving(FAKES["huggingface"]) as upstream:
        yield upstream


def credentials(fake, api_type: str) -> dict[str, str]:
    return {"endpoint_url": fake.url, "api_token": SECRET, "api_type": api_type}


def assert_same_json(ours, theirs, *, without: tuple[str, ...] = ()) -> None:
    assert ours.headers["authorization"] == theirs.headers["authorization"]
    assert {k: v for k, v in ours.json.items() if k not in without} == {
        k: v for k, v in theirs.json.items() if k not in without
    }


# --- TGI native on bytes -----------------------------------------------------------------------------------------


def test_generate_takes_the_prompt_and_tgi_parameters() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    request = ChatRequest(
        messages=(Message.system("Answer in JSON."), Message.user("Count to three")),
        max_tokens=20,
        temperature=0.7,
        top_p=0.9,
        stop=("\n\n",),
        seed=1,
        response_format=ResponseFormat("json_schema", schema=schema),
        extra={"repetition_penalty": 1.1},
    )
    sent = protocol.build_chat(hf_target(), request, stream=False)
    assert sent.url == "https://tgi.test/generate"
    assert body_of(sent) == {
        "inputs": "Answer in JSON.\n\nCount to three",
        "parameters": {
            "details": True,
            "max_new_tokens": 20,
            "temperature": 0.7,
            "top_p": 0.9,
            "stop": ["\n\n"],
            "seed": 1,
            "grammar": {"type": "json", "value": schema},
            "repetition_penalty": 1.1,
        },
    }


def test_greedy_values_tgi_refuses_are_left_out_and_a_conversation_becomes_a_transcript() -> None:
    request = ChatRequest(
        messages=(Message.user("Hi"), Message.assistant("Hello!"), Message.user("Bye")), temperature=0, top_p=1
    )
    sent = protocol.build_chat(hf_target(), request, stream=True)
    assert sent.url == "https://tgi.test/generate_stream"
    assert body_of(sent) == {
        "inputs": "User: Hi\n\nAssistant: Hello!\n\nUser: Bye\n\nAssistant:",
        "parameters": {"details": True},
    }


def test_tools_are_refused_on_the_native_route() -> None:
    request = ChatRequest(messages=(Message.user("?"),), tools=(Tool("f"),))
    with pytest.raises(UnsupportedFeatureError, match="Messages API"):
        protocol.build_chat(hf_target(), request, stream=False)


def test_generate_answer_maps_finish_reasons_and_leaves_usage_to_estimate() -> None:
    result = protocol.parse_chat(hf_target(), orjson.dumps(generated("Hello there", finish_reason="length")))
    assert (result.content, result.finish_reason) == ("Hello there", "length")
    assert result.usage is UNREPORTED
    compat = protocol.parse_chat(hf_target(), orjson.dumps([generated("Hi", finish_reason="stop_sequence")]))
    assert (compat.content, compat.finish_reason) == ("Hi", "stop")


def test_generate_stream_in_tiny_pieces_skips_special_tokens_and_ends_with_usage() -> None:
    body = sse_data(*stream_events(["Hel", "lo", "!"], input_length=6))
    decoder, parser = SSEDecoder(), protocol.chat_stream_parser(hf_target())
    chunks = [parser.feed(e) for i in range(0, len(body), 5) for e in decoder.feed(body[i : i + 5])]
    chunks = [c for c in chunks if c is not None]
    assert "".join(c.content for c in chunks) == "Hello!"
    assert chunks[-1].finish_reason == "stop"
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (6, 4)
    assert parser.finished


def test_an_error_event_inside_a_200_stream_raises_by_its_type() -> None:
    parser = protocol.chat_stream_parser(hf_target())
    overloaded = SSEDecoder().feed(sse_data({"error": "Model is overloaded", "error_type": "overloaded"}))[0]
    with pytest.raises(UpstreamRateLimitError, match="overloaded"):
        parser.feed(overloaded)
    failed = SSEDecoder().feed(sse_data({"error": "CUDA error", "error_type": "generation"}))[0]
    with pytest.raises(UpstreamUnavailableError, match="CUDA error"):
        protocol.chat_stream_parser(hf_target()).feed(failed)


@pytest.mark.parametrize(
    ("status", "error_type", "expected"),
    [
        (422, "validation", UpstreamBadRequestError),
        (424, "generation", UpstreamUnavailableError),
        (429, "overloaded", UpstreamRateLimitError),
        (500, "incomplete_generation", UpstreamUnavailableError),
        (503, "unhealthy", UpstreamUnavailableError),
    ],
)
def test_tgi_errors_map_by_status(status, error_type, expected) -> None:
    body = orjson.dumps({"error": "went wrong", "error_type": error_type})
    error = protocol.parse_error(hf_target(), status, {}, body)
    assert type(error) is expected
    assert "went wrong" in str(error)


def test_router_errors_in_openai_shape_keep_their_code() -> None:
    body = orjson.dumps(
        {"error": {"message": "too long", "type": "invalid_request_error", "code": "context_length_exceeded"}}
    )
    assert isinstance(protocol.parse_error(hf_target(), 400, {}, body), ContextLengthExceededError)
    loading = orjson.dumps({"error": "Model BAAI/bge-m3 is currently loading", "estimated_time": 20.0})
    assert isinstance(protocol.parse_error(hf_target(), 503, {}, loading), UpstreamUnavailableError)


# --- routes per api_type -------------------------------------------------------------------------------------------


def test_router_and_endpoints_chat_through_the_openai_style_route() -> None:
    request = ChatRequest.user_text("Hi")
    router = protocol.build_chat(
        hf_target(api_type="inference_providers", model_id="Qwen/Qwen3-8B"), request, stream=True
    )
    assert router.url == "https://tgi.test/v1/chat/completions"
    assert body_of(router)["model"] == "Qwen/Qwen3-8B"
    assert body_of(router)["stream_options"] == {"include_usage": True}
    pasted_v1 = hf_target(api_type="inference_endpoint", base_url="https://x.endpoints.huggingface.cloud/v1")
    assert protocol.build_chat(pasted_v1, request, stream=False).url.endswith(".cloud/v1/chat/completions")


def test_embeddings_go_to_the_router_pipeline_or_the_endpoint_root() -> None:
    request = EmbeddingRequest(("a", "b"))
    router = protocol.build_embeddings(
        hf_target("text-embedding", "inference_providers", model_id="BAAI/bge-m3"), request
    )
    assert router.url == "https://tgi.test/hf-inference/models/BAAI/bge-m3/pipeline/feature-extraction"
    assert body_of(router) == {"inputs": ["a", "b"]}
    endpoint = protocol.build_embeddings(hf_target("text-embedding", "inference_endpoint"), request)
    assert endpoint.url == "https://tgi.test"
    with pytest.raises(UnsupportedFeatureError):
        protocol.build_embeddings(hf_target("text-embedding", "inference_endpoint"), EmbeddingRequest(("a",), 8))


def test_token_level_embeddings_are_refused_with_a_hint() -> None:
    with pytest.raises(UpstreamProtocolError, match="pooled"):
        protocol.parse_embeddings(hf_target("text-embedding"), orjson.dumps([[[0.1, 0.2], [0.3, 0.4]]]))


# --- same logical call, same request as the SDK -------------------------------------------------------------------


async def test_generate_request_matches_the_sdk_and_the_sdk_parses_the_answer(fake, runtime) -> None:
    sdk = AsyncInferenceClient(model=f"{fake.url}/generate", token=SECRET)
    output = await sdk.text_generation(
        "Hi", details=True, max_new_tokens=20, temperature=0.5, top_p=0.9, stop=["END"], seed=3
    )
    await sdk.close()
    assert (output.generated_text, output.details.finish_reason, output.details.generated_tokens) == (
        "Hello!",
        "eos_token",
        3,
    )
    result = await runtime.chat(
        provider="huggingface_hub",
        model="tgi",
        credentials=credentials(fake, "tgi"),
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=20,
        temperature=0.5,
        top_p=0.9,
        stop=["END"],
        seed=3,
    )
    theirs, ours = fake.requests[-2], fake.requests[-1]
    assert ours.path == theirs.path == "/generate"
    assert_same_json(ours, theirs)
    assert (result.content, result.finish_reason) == ("Hello!", "stop")


async def test_generate_stream_request_matches_the_sdk_which_parses_our_events(fake, runtime) -> None:
    sdk = AsyncInferenceClient(model=f"{fake.url}/generate_stream", token=SECRET)
    parts = [p async for p in await sdk.text_generation("Hi", details=True, stream=True, max_new_tokens=8)]
    await sdk.close()
    assert "".join(p.token.text for p in parts if not p.token.special) == "Hello!"
    assert parts[-1].details.finish_reason == "eos_token"
    fake.stream_tgi(*stream_events(["Hel", "lo", "!"]), piece_size=11)
    stream = await runtime.chat(
        provider="huggingface_hub",
        model="tgi",
        credentials=credentials(fake, "tgi"),
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=8,
        stream=True,
    )
    result = await stream.collect()
    theirs, ours = fake.requests[-2], fake.requests[-1]
    assert ours.path == "/generate_stream"
    assert_same_json(ours, theirs, without=("stream",))  # the SDK also says stream: true; the route already does
    assert result.content == "Hello!"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.is_estimated) == (7, 4, False)
    prove("huggingface_hub", "llm", "streaming")


async def test_endpoint_chat_request_matches_the_sdk_chat_completion(fake, runtime) -> None:
    messages = [{"role": "user", "content": "Hi"}]
    sdk = AsyncInferenceClient(base_url=fake.url, token=SECRET)
    answer = await sdk.chat_completion(messages, model="meta-llama/Llama-3.3-70B-Instruct", max_tokens=30, seed=2)
    await sdk.close()
    assert answer.choices[0].message.content == "Hello!"
    result = await runtime.chat(
        provider="huggingface_hub",
        model="meta-llama/Llama-3.3-70B-Instruct",
        credentials=credentials(fake, "inference_endpoint"),
        messages=messages,
        max_tokens=30,
        seed=2,
    )
    theirs, ours = fake.requests[-2], fake.requests[-1]
    assert ours.path == theirs.path == "/v1/chat/completions"
    assert_same_json(ours, theirs, without=("stream",))  # the SDK states stream: false
    assert result.content == "Hello!"


async def test_endpoint_embeddings_match_the_sdk_feature_extraction(fake, runtime) -> None:
    sdk = AsyncInferenceClient(model=fake.url, token=SECRET)
    vectors = await sdk.feature_extraction(["a", "b"])
    await sdk.close()
    assert vectors.shape == (2, 4)
    result = await runtime.embed(
        provider="huggingface_hub", model="bge", credentials=credentials(fake, "inference_endpoint"), texts=["a", "b"]
    )
    theirs, ours = fake.requests[-2], fake.requests[-1]
    assert ours.path == theirs.path == "/"
    assert_same_json(ours, theirs)
    assert result.vectors[1] == pytest.approx([float(x) for x in vectors[1]])


async def test_router_embeddings_match_the_sdk_on_the_hf_inference_pipeline(fake, runtime, monkeypatch) -> None:
    helper = hf_inference.HFInferenceFeatureExtractionTask()
    helper.base_url = f"{fake.url}/hf-inference"  # the router, here
    monkeypatch.setattr(hf_inference, "_check_supported_task", lambda model, task: None)  # a Hub lookup otherwise
    monkeypatch.setitem(hf_inference.__dict__, "HFInferenceFeatureExtractionTask", lambda: helper)
    from huggingface_hub.inference._providers import PROVIDERS

    monkeypatch.setitem(PROVIDERS["hf-inference"], "feature-extraction", helper)
    sdk = AsyncInferenceClient(provider="hf-inference", token=SECRET)
    await sdk.feature_extraction(["a"], model="BAAI/bge-m3")
    await sdk.close()
    await runtime.embed(
        provider="huggingface_hub",
        model="BAAI/bge-m3",
        credentials=credentials(fake, "inference_providers"),
        texts=["a"],
    )
    theirs, ours = fake.requests[-2], fake.requests[-1]
    assert ours.path == theirs.path == "/hf-inference/models/BAAI/bge-m3/pipeline/feature-extraction"
    assert_same_json(ours, theirs)


async def test_sdk_and_we_read_tgi_errors_alike(fake, runtime) -> None:
    fake.fail_hf(429, "Model is overloaded", "overloaded")
    sdk = AsyncInferenceClient(model=f"{fake.url}/generate", token=SECRET)
    with pytest.raises(OverloadedError):
        await sdk.text_generation("Hi", details=True)
    fake.fail_hf(422, "Input validation error: `inputs` must have less than 4096 tokens", "validation")
    with pytest.raises(ValidationError):
        await sdk.text_generation("Hi", details=True)
    await sdk.close()
    fake.fail_hf(429, "Model is overloaded", "overloaded")
    with pytest.raises(UpstreamRateLimitError):
        await runtime.chat(
            provider="huggingface_hub",
            model="tgi",
            credentials=credentials(fake, "tgi"),
            messages=[{"role": "user", "content": "Hi"}],
        )
