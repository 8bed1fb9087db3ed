"""A predefined provider's custom models (issue 15 §1): a fine-tuned OpenAI model and a completion-only one, added
over the console API with their own form, validated live against the fake, and called through the gateway with
the `openai` SDK; the names and types the form does not take are refused, naming the field."""

from __future__ import annotations

import openai
import pytest

from modelyard.catalog import default_catalog
from tests.support import SECRET
from tests.support.console import API, Console, error_of

FINE_TUNED = "ft:gpt-4.1-mini-2025-04-14:acme::B7x2Qp9"
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
}
# Which predefined providers take custom models in Dify's official plugins (models/<name>/provider/<name>.yaml,
# configurate_methods, read 2026-12); bedrock is the cloud wave's. The others (deepseek, gemini, mistralai, groq,
# baichuan, hunyuan, minimax, nvidia, vertex_ai, zhinao, zhipuai, tencent) list predefined-model only there.
DIFY_CUSTOMIZABLE = {
    "openai", "anthropic", "bedrock", "tongyi", "wenxin", "siliconflow", "moonshot", "stepfun", "yi", "jina", "cohere",
}  # fmt: skip


@pytest.fixture
async def owner_base(console: Console) -> tuple[object, str]:
    await console.account("owner@example.com")
    owner = await console.sign_in("owner@example.com")
    workspace = (await owner.post(f"{API}/workspaces", json={"name": "Fine-tunes"})).json()["id"]
    return owner, f"{API}/workspaces/{workspace}"


def openai_form(fake_openai, **described: str) -> dict[str, str]:
    return {"openai_api_key": SECRET, "openai_api_base": fake_openai.url, "context_size": "128000", **described}


def test_every_predefined_provider_dify_lets_take_custom_models_takes_them() -> None:
    for provider_id in DIFY_CUSTOMIZABLE:
        spec = default_catalog().get(provider_id)
        assert {"predefined-model", "customizable-model"} <= set(spec.configuration_methods), provider_id


async def test_a_fine_tuned_openai_model_is_added_in_the_console_and_called_through_the_gateway(
    console: Console, owner_base, fake_openai
) -> None:
    owner, base = owner_base
    providers = {p["id"]: p for p in (await owner.get(f"{API}/providers")).json()}
    assert providers["openai"]["custom_model_types"] == ["llm"]  # the console offers only what the form describes
    values = openai_form(
        fake_openai, max_tokens_to_sample="16384", function_calling_type="tool_call", vision_support="support"
    )
    created = await owner.post(
        f"{base}/providers/openai/custom-models", json={"model": FINE_TUNED, "model_type": "llm", "values": values}
    )
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "verified"
    assert fake_openai.last.json["model"] == FINE_TUNED  # the live check called the fine-tune itself

    listed = (await owner.get(f"{base}/models", params={"provider": "openai", "model_type": "llm"})).json()
    custom = next(m for m in listed if m["model"] == FINE_TUNED)
    assert custom["is_custom"] and custom["is_available"]
    assert {"tool-call", "vision"} <= set(custom["features"])

    key = (await owner.post(f"{base}/api-keys", json={"name": "sdk"})).json()["key"]
    sdk = openai.AsyncOpenAI(base_url="http://testserver/v1", api_key=key, http_client=console.client(), max_retries=0)
    name = f"openai/{FINE_TUNED}"
    assert name in {model.id async for model in sdk.models.list()}
    reply = await sdk.chat.completions.create(model=name, messages=[{"role": "user", "content": "Hi"}])
    assert reply.choices[0].message.content == "Hello!"
    assert (fake_openai.last.path, fake_openai.last.json["model"]) == ("/v1/chat/completions", FINE_TUNED)
    called = await sdk.chat.completions.create(
        model=name, messages=[{"role": "user", "content": "Weather in Oslo?"}], tools=[WEATHER]
    )
    assert called.choices[0].message.tool_calls[0].function.name == "get_weather"
    assert fake_openai.last.headers["authorization"] == f"Bearer {SECRET}"


async def test_a_completion_only_fine_tune_is_called_on_completions_through_the_gateway(
    console: Console, owner_base, fake_openai
) -> None:
    owner, base = owner_base
    model = "ft:davinci-002:acme::C9k"
    values = openai_form(fake_openai, mode="completion", api_protocol="responses")  # completion wins over Responses
    created = await owner.post(
        f"{base}/providers/openai/custom-models", json={"model": model, "model_type": "llm", "values": values}
    )
    assert created.status_code == 201, created.text
    assert fake_openai.last.path == "/v1/completions"  # the live check too
    key = (await owner.post(f"{base}/api-keys", json={"name": "sdk"})).json()["key"]
    sdk = openai.AsyncOpenAI(base_url="http://testserver/v1", api_key=key, http_client=console.client(), max_retries=0)
    stream = await sdk.chat.completions.create(
        model=f"openai/{model}", messages=[{"role": "user", "content": "Once upon a time"}], stream=True
    )
    text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    assert text == "Hello!"
    assert (fake_openai.last.path, fake_openai.last.json["prompt"]) == ("/v1/completions", "Once upon a time")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "gpt-5.5", "model_type": "llm"}, "model"),  # a catalog model: its spec would shadow the form
        ({"model": "my-voice", "model_type": "tts"}, "model_type"),  # openai serves tts, but takes custom llms only
    ],
)
async def test_what_the_custom_form_does_not_describe_is_refused_naming_the_field(
    console: Console, owner_base, fake_openai, body, field
) -> None:
    owner, base = owner_base
    refused = await owner.post(
        f"{base}/providers/openai/custom-models", json={**body, "values": openai_form(fake_openai)}
    )
    assert refused.status_code == 400, refused.text
    assert error_of(refused)["field"] == field
    assert fake_openai.requests == []  # refused before any live check
