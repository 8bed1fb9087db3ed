"""Vertex AI beyond Gemini: which publisher and location serve a model, Claude's and Mistral's rawPredict bodies,
errors from Google's front end and from the partner, and whole calls against the Google fake."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import orjson
import pytest

from modelyard.errors import UpstreamAuthError, UpstreamUnavailableError
from modelyard.protocols.vertex import Vertex
from modelyard.runtime.bindings import default_bindings
from modelyard.types import ChatRequest, Message, Tool, ToolCall
from tests.fakes import anthropic as anthropic_fake
from tests.fakes.gemini import FakeGoogle, service_account_info, status_error
from tests.fakes.loopback import served

VERTEX = Vertex()
WEATHER = Tool("get_weather", "Weather for a city", {"type": "object", "properties": {"q": {"type": "string"}}})


def target(model_id: str, **values: str):
    binding = default_bindings()["vertex_ai"]
    credentials = {"auth_method": "service_account", "project_id": "p", "location": "us-central1", **values}
    return binding.target(binding.model(model_id, "llm", credentials), credentials)


def url_of(model_id: str, *, stream: bool = False, **values: str) -> str:
    return VERTEX.build_chat(target(model_id, **values), ChatRequest.user_text("Hi"), stream=stream).url


# --- where a model is called ---------------------------------------------------------------------------------------


def test_claude_and_mistral_go_to_their_publishers_rawpredict() -> None:
    assert url_of("claude-sonnet-4-6") == (
        "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1"
        "/publishers/anthropic/models/claude-sonnet-4-6:rawPredict"
    )
    assert url_of("claude-sonnet-4-6", stream=True).endswith("/claude-sonnet-4-6:streamRawPredict")
    assert url_of("mistral-medium-3", location="global") == (
        "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1"
        "/publishers/mistralai/models/mistral-medium-3:rawPredict"  # Mistral's own location, us-central1 by default
    )
    assert "/publishers/google/models/gemini-2.5-flash:generateContent" in url_of("gemini-2.5-flash")


def test_a_publishers_own_location_wins_and_global_uses_the_global_host() -> None:
    assert url_of("claude-opus-4-8", anthropic_location="us-east5").startswith(
        "https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/us-east5/publishers/anthropic/"
    )
    assert url_of("claude-opus-4-8", location="global").startswith(
        "https://aiplatform.googleapis.com/v1/projects/p/locations/global/publishers/anthropic/"
    )
    assert url_of("mistral-small-2503", mistral_location="europe-west4").startswith(
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/p/locations/europe-west4/publishers/mistralai/"
    )


def test_a_global_only_model_chosen_in_a_region_goes_to_global() -> None:
    assert url_of("gemini-3.1-pro-preview", location="europe-west4").startswith(
        "https://aiplatform.googleapis.com/v1/projects/p/locations/global/publishers/google/models/"
    )
    assert url_of("gemini-2.5-flash", location="europe-west4").startswith(
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/p/locations/europe-west4/"
    )
    # a multi-region is a residency choice: kept
    assert url_of("gemini-3.1-pro-preview", location="eu").startswith("https://aiplatform.eu.rep.googleapis.com/")
    # the form's list replaces the built-in one
    own_list = {"location": "europe-west4", "global_models": "gemini-2.5-flash"}
    assert "/locations/global/" in url_of("gemini-2.5-flash", **own_list)
    assert "/locations/europe-west4/" in url_of("gemini-3.1-pro-preview", **own_list)


# --- bodies --------------------------------------------------------------------------------------------------------


def test_claude_sends_the_messages_body_without_model_and_with_anthropic_version() -> None:
    request = ChatRequest(messages=(Message.system("Be brief."), Message.user("Hi")), max_tokens=64, tools=(WEATHER,))
    body = orjson.loads(VERTEX.build_chat(target("claude-sonnet-4-6"), request, stream=True).body)
    assert "model" not in body
    assert body["anthropic_version"] == "2026-10-21"
    assert body["stream"] is True
    assert body["system"] == "Be brief." and body["max_tokens"] == 64
    assert body["tools"][0]["name"] == "get_weather"


def test_mistral_sends_its_chat_body_with_random_seed_and_nothing_its_schema_forbids() -> None:
    request = ChatRequest(messages=(Message.user("Hi"),), seed=7, max_tokens=32, user="end-user-1")
    wire = VERTEX.build_chat(target("mistral-medium-3"), request, stream=True)
    body = orjson.loads(wire.body)
    assert body["model"] == "mistral-medium-3"
    assert body["random_seed"] == 7 and "seed" not in body
    assert body["max_tokens"] == 32 and body["stream"] is True
    assert "stream_options" not in body and "user" not in body


# --- errors --------------------------------------------------------------------------------------------------------


def test_googles_front_end_error_and_claudes_own_error_are_both_read() -> None:
    claude = target("claude-sonnet-4-6")
    google = orjson.dumps(status_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."))
    assert isinstance(VERTEX.parse_error(claude, 401, {}, google), UpstreamAuthError)
    overloaded = orjson.dumps(anthropic_fake.error_body("overloaded_error", "Overloaded"))
    error = VERTEX.parse_error(claude, 529, {}, overloaded)
    assert isinstance(error, UpstreamUnavailableError) and "Overloaded" in str(error)


# --- whole calls against the fake ------------------------------------------------------------------------------------


@pytest.fixture
async def google() -> AsyncIterator[FakeGoogle]:
    async with served(FakeGoogle()) as fake:
        yield fake


def values(fake: FakeGoogle) -> dict[str, str]:
    key = orjson.dumps(service_account_info(f"{fake.url}/token")).decode()
    return {"service_account_json": key, "project_id": "p", "location": "us-east5", "api_endpoint": fake.url}


@pytest.mark.parametrize(
    ("model", "publisher"), [("claude-opus-4-8", "anthropic"), ("mistral-small-2503", "mistralai")]
)
async def test_partner_models_chat_stream_and_call_tools_through_vertex(runtime, google, model, publisher) -> None:
    credentials = values(google)
    messages = [{"role": "user", "content": "Hi"}]
    answer = await runtime.chat(provider="vertex_ai", model=model, credentials=credentials, messages=messages)
    streamed = await (
        await runtime.chat(provider="vertex_ai", model=model, credentials=credentials, messages=messages, stream=True)
    ).collect()
    called = await runtime.chat(
        provider="vertex_ai", model=model, credentials=credentials, messages=messages, tools=[WEATHER]
    )
    assert (answer.content, streamed.content) == ("Hello!", "Hello!")
    assert streamed.usage is not None and streamed.usage.prompt_tokens == 9
    assert [call.name for call in called.tool_calls] == ["get_weather"]
    assert answer.usage.total_price > 0  # priced from the catalog
    paths = [r.path for r in google.requests]
    assert all(f"/publishers/{publisher}/models/{model}:" in path for path in paths)
    assert all(r.headers["authorization"].startswith("Bearer ya29.fake-") for r in google.requests)


# --- function-call ids ---------------------------------------------------------------------------------------------

TOOL_TURNS = [
    {"role": "user", "content": "Weather in Oslo?"},
    {
        "role": "assistant",
        "tool_calls": [{"id": "fc-1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}],
    },
    {"role": "tool", "tool_call_id": "fc-1", "content": "sunny"},
]


def function_parts(body: bytes) -> list[dict]:
    contents = orjson.loads(body)["contents"]
    return [p[k] for c in contents for p in c["parts"] for k in ("functionCall", "functionResponse") if k in p]


def test_vertex_v1_sends_calls_and_results_without_ids_and_v1beta1_with_them() -> None:
    request = ChatRequest(
        messages=(
            Message.user("Weather in Oslo?"),
            Message.assistant("", tool_calls=(ToolCall("fc-1", "get_weather", "{}"),)),
            Message.tool("fc-1", "sunny"),
        ),
        tools=(WEATHER,),
    )
    v1 = target("gemini-2.5-flash")
    beta = msgspec.structs.replace(v1, base_url=v1.base_url.replace("/v1/", "/v1beta1/"))

    sent = function_parts(VERTEX.build_chat(v1, request, stream=False).body)
    assert [part["name"] for part in sent] == ["get_weather", "get_weather"]
    assert not any("id" in part for part in sent)
    assert [part.get("id") for part in function_parts(VERTEX.build_chat(beta, request, stream=False).body)] == [
        "fc-1",
        "fc-1",
    ]


async def test_a_tool_result_turn_reaches_gemini_on_vertex_v1(runtime, google) -> None:
    # The fake refuses `id` on Vertex v1 with Google's 400, as the v1 API does.
    answer = await runtime.chat(
        provider="vertex_ai", model="gemini-2.5-flash", credentials=values(google), messages=TOOL_TURNS
    )
    assert answer.content
    assert "/v1/projects/p/" in google.last.path
