"""Every catalog provider through the service's faces: configured over the console API, called through /v1.

For each provider an owner stores what its form asks for (credentials, or a custom model with its own), with the
live validation call on, makes an API key, and the `openai` SDK calls each model type through the gateway,
getting OpenAI's shape back whatever wire the provider speaks. The upstream is the provider's fake from
tests/fakes/registry.py; only where the provider's URL is fixed (api.replicate.com, *.amazonaws.com) is the
address swapped for the fake's, exactly as the catalog round trip does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai
import pytest

from modelyard.catalog import default_catalog
from modelyard.catalog.spec import ModelSpec
from modelyard.runtime.validation import silent_wav
from tests.capabilities import prove
from tests.catalog.filling import configuration
from tests.fakes.registry import FAKES, aim_bindings_at, serving
from tests.support.console import API, Console

PROVIDERS = [spec.id for spec in default_catalog()]


@pytest.fixture
async def upstream(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[str, Any]]:
    """The provider named by the test's parameter, its fake, and every binding of that protocol aimed at it."""
    provider_id = request.param
    fake = FAKES[default_catalog().get(provider_id).protocol]
    async with serving(fake) as running:
        aim_bindings_at(monkeypatch, fake, running)
        yield provider_id, running


@pytest.mark.parametrize("upstream", PROVIDERS, indirect=True)
async def test_configured_in_the_console_and_called_through_the_gateway(console: Console, upstream) -> None:
    provider_id, fake = upstream
    provider = default_catalog().get(provider_id)
    await console.account("owner@example.com")
    owner = await console.sign_in("owner@example.com")
    workspace = (await owner.post(f"{API}/workspaces", json={"name": "Every provider"})).json()["id"]
    base = f"{API}/workspaces/{workspace}"

    models: dict[str, ModelSpec | None] = {}
    names: dict[str, str] = {}
    for model_type in provider.supported_model_types:
        model, model_id, values = configuration(provider, model_type, fake.url)
        if model is None:
            body = {"model": model_id, "model_type": model_type, "values": values}
            created = await owner.post(f"{base}/providers/{provider_id}/custom-models", json=body)
        elif not any(models.values()):  # one provider credential serves all its catalog models
            created = await owner.post(f"{base}/providers/{provider_id}/credentials", json={"values": values})
        assert created.status_code == 201, created.text
        assert created.json()["status"] == "verified", created.json()  # the live check went through the fake
        models[model_type], names[model_type] = model, f"{provider_id}/{model_id}"

    key = (await owner.post(f"{base}/api-keys", json={"name": "sdk"})).json()["key"]
    sdk = openai.AsyncOpenAI(base_url="http://testserver/v1", api_key=key, http_client=console.client(), max_retries=0)
    listed = {model.id async for model in sdk.models.list()}
    assert set(names.values()) - listed == set()  # deprecated models too: they answer until their shutdown
    for model_type, name in names.items():
        await call_through_the_gateway(sdk, model_type, name, models[model_type])
        prove(provider_id, model_type, "gateway")
        if model_type == "llm":
            await call_through_the_responses_api(sdk, name)
            prove(provider_id, model_type, "responses")


async def call_through_the_responses_api(sdk: openai.AsyncOpenAI, name: str) -> None:
    """One answer and one stream from /v1/responses (OpenAI's Responses API), whatever wire the model speaks."""
    answer = await sdk.responses.create(model=name, input="Hi", store=False)
    assert answer.object == "response" and answer.status == "completed"
    assert answer.output_text and answer.usage is not None
    async with sdk.responses.stream(model=name, input="Hi", store=False) as stream:
        deltas = [event.delta async for event in stream if event.type == "response.output_text.delta"]
        streamed = await stream.get_final_response()
    assert "".join(deltas) == streamed.output_text and streamed.status == "completed"


async def call_through_the_gateway(
    sdk: openai.AsyncOpenAI, model_type: str, name: str, model: ModelSpec | None
) -> None:
    """One call of `model_type` with the SDK; each answer must be in OpenAI's shape."""
    if model_type == "llm":
        reply = await sdk.chat.completions.create(model=name, messages=[{"role": "user", "content": "Hi"}])
        assert reply.object == "chat.completion"
        assert reply.choices[0].message.content
        assert reply.usage is not None
        stream = await sdk.chat.completions.create(
            model=name,
            messages=[{"role": "user", "content": "Hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert chunks[-1].usage is not None
    elif model_type == "text-embedding":
        embedded = await sdk.embeddings.create(model=name, input=["a", "b"])
        assert [item.index for item in embedded.data] == [0, 1]
        assert all(item.embedding for item in embedded.data)
    elif model_type == "rerank":
        body = {"query": "q", "documents": ["a", "b"]}
        reranked = await sdk.post("/rerank", body={"model": name, **body}, cast_to=httpx2.Response)
        assert {hit["index"] for hit in reranked.json()["results"]} <= {0, 1}
    elif model_type == "speech2text":
        transcript = await sdk.audio.transcriptions.create(model=name, file=("ping.wav", silent_wav()))
        assert transcript.text
    elif model_type == "tts":
        voice = model.properties.voices[0].id if model and model.properties.voices else "alloy"
        speech = await sdk.audio.speech.create(model=name, input="Hi", voice=voice)
        assert speech.content
    else:
        moderated = await sdk.moderations.create(model=name, input="Hi")
        assert moderated.results
