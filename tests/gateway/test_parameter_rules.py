"""The gateway reports what a model's parameter rules changed, and refuses instead in strict mode."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace

import aiohttp
import openai
import pytest

from modelyard.gateway.parameters import key_requires_strict_params
from modelyard.services.api_keys import ApiKeyIdentity

HI = [{"role": "user", "content": "Hi"}]


@pytest.fixture
async def client(gateway) -> AsyncIterator[openai.AsyncOpenAI]:
    sdk = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.api_key, max_retries=0)
    try:
        yield sdk
    finally:
        await sdk.close()


async def test_dropped_and_clamped_parameters_are_named_in_response_headers(client, fake_openai) -> None:
    raw = await client.chat.completions.with_raw_response.create(
        model="deepseek/deepseek-flash", messages=HI, seed=7, max_tokens=10_000_000, temperature=0.5
    )
    assert raw.headers["x-modelyard-dropped-params"] == "seed"
    assert raw.headers["x-modelyard-adjusted-params"] == "max_tokens=393216"
    sent = fake_openai.last.json
    assert "seed" not in sent and sent["max_tokens"] == 393216 and sent["temperature"] == 0.5


async def test_a_call_nothing_changed_in_carries_no_adjustment_header(client) -> None:
    raw = await client.chat.completions.with_raw_response.create(model="deepseek/deepseek-flash", messages=HI)
    assert "x-modelyard-dropped-params" not in raw.headers
    assert "x-modelyard-adjusted-params" not in raw.headers


async def test_a_stream_names_its_dropped_parameters_before_the_first_chunk(client) -> None:
    async with client.chat.completions.with_streaming_response.create(
        model="deepseek/deepseek-v4-flash", messages=HI, temperature=0.2, stream=True
    ) as response:
        assert response.headers["x-modelyard-dropped-params"] == "temperature"
        assert [chunk async for chunk in await response.parse()]


async def test_strict_mode_header_refuses_with_400_naming_parameter_and_model(client, fake_openai) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model="deepseek/deepseek-v4-flash",
            messages=HI,
            temperature=0.2,
            extra_headers={"x-modelyard-strict-params": "true"},
        )
    assert caught.value.status_code == 400
    assert "deepseek-v4-flash does not take temperature=0.2" in caught.value.message
    assert caught.value.body["param"] == "temperature"  # type: ignore[index]
    assert fake_openai.requests == []


async def test_strict_mode_on_the_anthropic_face_answers_in_anthropics_shape(gateway, fake_openai) -> None:
    body = {"model": "deepseek/deepseek-v4-flash", "max_tokens": 64, "temperature": 0.2, "messages": HI}
    headers = {"x-api-key": gateway.api_key, "x-modelyard-strict-params": "1", "anthropic-version": "2023-06-01"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{gateway.url}/v1/messages", json=body, headers=headers) as r,
    ):
        answer = await r.json()
    assert r.status == 400
    assert answer["type"] == "error" and "temperature" in answer["error"]["message"]
    assert fake_openai.requests == []


def test_an_api_key_whose_policy_is_strict_makes_every_call_strict() -> None:
    strict_key = SimpleNamespace(api_key_id="key-1", workspace_id="ws-1", strict_params=True)  # its policy says so
    assert key_requires_strict_params(strict_key)  # type: ignore[arg-type]
    assert not key_requires_strict_params(ApiKeyIdentity("key-1", "ws-1"))
