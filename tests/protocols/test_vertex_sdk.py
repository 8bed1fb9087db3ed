"""Claude on Vertex held to the vendor's own client: the `anthropic` SDK's AnthropicVertex (2.17.0).

The SDK parses the Google fake's Claude answers (plain and streamed), and for the same logical call our request
equals the SDK's: the URL (publisher, model, rawPredict or streamRawPredict), the JSON body (no `model`, an
`anthropic_version`), the bearer token. Mistral on Vertex has no SDK among the test dependencies (its wire is
checked in test_vertex.py against the shapes Google's page and Mistral's own API document).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import orjson
import pytest

from modelyard.types import Tool
from tests.fakes.gemini import FakeGoogle, service_account_info
from tests.fakes.loopback import served

MODEL = "claude-sonnet-4-6"
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
}


@pytest.fixture
async def google() -> AsyncIterator[FakeGoogle]:
    async with served(FakeGoogle()) as fake:
        yield fake


@pytest.fixture
def credentials(google: FakeGoogle) -> dict[str, str]:
    key = orjson.dumps(service_account_info(f"{google.url}/token")).decode()
    return {
        "service_account_json": key,
        "project_id": "test-project",
        "location": "us-east5",
        "api_endpoint": google.url,
    }


async def sdk_for(google: FakeGoogle) -> anthropic.AsyncAnthropicVertex:
    """AnthropicVertex aimed at the fake, with a token the fake issued (to our own exchange, made first)."""
    token = next(iter(google.issued))
    return anthropic.AsyncAnthropicVertex(
        region="us-east5", project_id="test-project", access_token=token, base_url=f"{google.url}/v1", max_retries=0
    )


def assert_same_request(google: FakeGoogle) -> None:
    ours, theirs = google.requests[-2], google.requests[-1]
    assert ours.path == theirs.path
    assert ours.json == theirs.json
    assert ours.headers["authorization"] == theirs.headers["authorization"]
    assert ours.headers["content-type"] == theirs.headers["content-type"] == "application/json"


async def test_a_plain_call_equals_the_sdks_and_the_sdk_reads_the_answer(runtime, google, credentials) -> None:
    ours = await runtime.chat(
        provider="vertex_ai",
        model=MODEL,
        credentials=credentials,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        max_tokens=100,
        stop=["END"],
    )
    sdk = await sdk_for(google)
    theirs = await sdk.messages.create(
        model=MODEL,
        max_tokens=100,
        system="Be brief.",
        messages=[{"role": "user", "content": "Hi"}],
        stop_sequences=["END"],
    )
    await sdk.close()
    assert_same_request(google)
    assert google.requests[-1].path == (
        f"/v1/projects/test-project/locations/us-east5/publishers/anthropic/models/{MODEL}:rawPredict"
    )
    assert ours.content == theirs.content[0].text == "Hello!"
    assert (ours.usage.prompt_tokens, ours.usage.completion_tokens) == (
        theirs.usage.input_tokens,
        theirs.usage.output_tokens,
    )


async def test_a_streamed_tool_call_equals_the_sdks_and_both_read_the_stream(runtime, google, credentials) -> None:
    tool = Tool(WEATHER["name"], WEATHER["description"], WEATHER["input_schema"])
    stream = await runtime.chat(
        provider="vertex_ai",
        model=MODEL,
        credentials=credentials,
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        max_tokens=200,
        tools=[tool],
        stream=True,
    )
    ours = await stream.collect()
    sdk = await sdk_for(google)
    async with sdk.messages.stream(
        model=MODEL, max_tokens=200, messages=[{"role": "user", "content": "Weather in Oslo?"}], tools=[WEATHER]
    ) as theirs_stream:
        theirs = await theirs_stream.get_final_message()
    await sdk.close()
    assert_same_request(google)
    assert google.requests[-1].path.endswith(f"/models/{MODEL}:streamRawPredict")
    (call,) = ours.tool_calls
    (use,) = [block for block in theirs.content if block.type == "tool_use"]
    assert (call.name, orjson.loads(call.arguments)) == (use.name, use.input) == ("get_weather", {"q": "x"})
