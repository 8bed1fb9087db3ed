"""Every shipped provider file, checked the same way: a new file is tested without anyone writing a test."""

from __future__ import annotations

import re

import pytest

from modelyard.catalog import default_catalog
from modelyard.catalog.spec import MODEL_TYPE_FIELD, ProviderSpec
from modelyard.runtime.bindings import default_bindings
from modelyard.runtime.validation import silent_wav
from modelyard.types import (
    ChatRequest,
    EmbeddingRequest,
    ImagePart,
    Message,
    ModerationRequest,
    RerankRequest,
    ResponseFormat,
    SpeechRequest,
    TextPart,
    Tool,
    TranscriptionRequest,
)
from modelyard.types.model_type import MODEL_TYPES
from tests.capabilities import prove
from tests.catalog.filling import configuration
from tests.fakes.registry import FAKES, serving
from tests.support import SECRET

CATALOG = default_catalog()
PROVIDERS = [spec.id for spec in CATALOG]
SECRET_LOOKING = re.compile(r"(key|secret|token|password)$")


def spec_of(provider_id: str) -> ProviderSpec:
    return CATALOG.get(provider_id)


def test_the_catalog_ships_every_provider_of_this_wave() -> None:
    wave = {
        "openai",
        "azure_openai",
        "deepseek",
        "moonshot",
        "groq",
        "togetherai",
        "openrouter",
        "mistralai",
        "siliconflow",
        "yi",
        "stepfun",
        "zhinao",
        "novita",
        "perfxcloud",
        "leptonai",
        "nvidia",
        "nvidia_nim",
        "volcengine_maas",
        "xinference",
        "openllm",
        "localai",
        "gpustack",
        "chatglm",
        "openai_api_compatible",
    }
    wave_2 = {
        "anthropic",
        "gemini",
        "vertex_ai",
        "bedrock",
        "sagemaker",
        "cohere",
        "ollama",
        "huggingface_hub",
        "huggingface_tei",
        "replicate",
        "triton_inference_server",
        "jina",
        "azure_ai_studio",
    }
    assert wave | wave_2 <= set(PROVIDERS)


@pytest.mark.parametrize("provider_id", PROVIDERS)
def test_provider_binds_to_its_protocol_and_signing(provider_id: str) -> None:
    binding = default_bindings()[provider_id]
    assert binding.spec.id == provider_id
    declared = {f.variable for f in (*binding.spec.credentials, *binding.spec.model_credentials)}
    assert binding.scheme.reads(binding.signing_params) <= declared


@pytest.mark.parametrize("provider_id", PROVIDERS)
def test_provider_labels_are_in_english_and_chinese(provider_id: str) -> None:
    spec = spec_of(provider_id)
    assert spec.label.zh_Hans, "provider label needs zh_Hans"
    assert spec.description is not None and spec.description.zh_Hans
    for field in (*spec.credentials, *spec.model_credentials):
        assert field.label.zh_Hans, f"{field.variable}: label needs zh_Hans"


@pytest.mark.parametrize("provider_id", PROVIDERS)
def test_credential_schema_is_coherent(provider_id: str) -> None:
    spec = spec_of(provider_id)
    for form, pseudo in ((spec.credentials, set()), (spec.model_credentials, {MODEL_TYPE_FIELD})):
        names = {f.variable for f in form} | pseudo
        for field in form:
            if SECRET_LOOKING.search(field.variable):
                assert field.type == "secret-input", f"{field.variable} looks secret but is {field.type}"
            for condition in field.show_on:
                assert condition.variable in names
            assert not (field.is_secret and field.default), f"{field.variable}: a secret cannot have a default"


@pytest.mark.parametrize("provider_id", PROVIDERS)
def test_models_are_typed_priced_and_unique(provider_id: str) -> None:
    spec = spec_of(provider_id)
    for model in (*spec.models, *spec.base_models):
        assert model.type in MODEL_TYPES
        if model.type == "llm":
            assert model.properties.context_size, f"{model.id}: an llm needs its context size"
        if model.type == "tts":
            assert model.properties.voices, f"{model.id}: a tts model lists its voices"
        if model.pricing is not None:
            assert model.pricing.input >= 0 and model.pricing.output >= 0


@pytest.mark.parametrize("provider_id", PROVIDERS)
async def test_round_trip_through_the_fake_for_every_model_type(provider_id, runtime) -> None:
    binding = runtime.binding(provider_id)
    spec = binding.spec
    fake = FAKES.get(spec.protocol)
    assert fake is not None, f"protocol {spec.protocol!r} has no fake in tests/fakes/registry.py"
    async with serving(fake) as upstream:
        for model_type in spec.supported_model_types:
            model, model_id, values = configuration(spec, model_type, upstream.url)
            target = runtime.target(
                provider_id, model_id, model_type, values, base_url=fake.base_url(binding, upstream.url)
            )
            await invoke_once(runtime, fake.adjust(target))
            if model is not None and model_type == "llm":  # features the first model lacks, on models that have them
                for feature in ("tool-call", "vision", "structured-output"):
                    if model.supports(feature):
                        continue
                    other = next((m for m in spec.models if m.type == "llm" and m.supports(feature)), None)
                    if other is not None:
                        other_target = runtime.target(
                            provider_id, other.id, "llm", values, base_url=fake.base_url(binding, upstream.url)
                        )
                        await exercise(runtime, fake.adjust(other_target), feature)
            if spec.signing.get("scheme") != "none":
                assert SECRET in fake.wire_text(upstream.requests[-1]), f"{model_type}: the key was not sent"
            if model is not None and binding.is_customizable and model_type in spec.custom_types:
                # the provider also takes custom models: the features their form switches on are exercised too
                _, custom_id, custom_values = configuration(spec, model_type, upstream.url, custom=True)
                custom_target = runtime.target(
                    provider_id, custom_id, model_type, custom_values, base_url=fake.base_url(binding, upstream.url)
                )
                await invoke_once(runtime, fake.adjust(custom_target))
            if model_type == "llm" and offers_completion_mode(spec):
                _, custom_id, custom_values = configuration(spec, model_type, upstream.url, custom=True)
                custom_values |= {"mode": "completion", "function_calling_type": "no_call"}
                completion_target = runtime.target(
                    provider_id, custom_id, model_type, custom_values, base_url=fake.base_url(binding, upstream.url)
                )
                await complete_once(runtime, fake.adjust(completion_target))


WEATHER = Tool("get_weather", "Weather for a city", {"type": "object", "properties": {"q": {"type": "string"}}})
PIXEL = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


async def exercise(runtime, target, feature: str) -> None:
    """One call that needs `feature`, checked and proven for the matrix."""
    provider = target.provider.id
    if feature == "tool-call":
        request = ChatRequest(messages=(Message.user("Weather in Oslo?"),), tools=(WEATHER,))
        called = await runtime.invoke_chat(target, request, stream=False)
        assert [call.name for call in called.tool_calls] == ["get_weather"]
        prove(provider, "llm", "tools")
    elif feature == "vision":
        request = ChatRequest(messages=(Message.user([TextPart("What is this?"), ImagePart(PIXEL)]),))
        assert (await runtime.invoke_chat(target, request, stream=False)).content
        prove(provider, "llm", "vision")
    else:
        schema = ResponseFormat("json_schema", "answer", {"type": "object", "properties": {}})
        request = ChatRequest(messages=(Message.user("JSON please"),), response_format=schema)
        assert (await runtime.invoke_chat(target, request, stream=False)).content
        prove(provider, "llm", "structured-output")


def offers_completion_mode(spec: ProviderSpec) -> bool:
    """The model form's `mode` offers completion (the legacy /completions, Ollama's /api/generate)."""
    mode = next((f for f in spec.model_credentials if f.variable == "mode"), None)
    return mode is not None and "completion" in {option.value for option in mode.options}


async def complete_once(runtime, target) -> None:
    """A completion-mode model answers the same unified request, whole and streamed."""
    assert target.model.properties.mode == "completion"
    result = await runtime.invoke_chat(target, ChatRequest.user_text("Once upon a time"), stream=False)
    streamed = await (await runtime.invoke_chat(target, ChatRequest.user_text("Once"), stream=True)).collect()
    assert result.content and streamed.content and streamed.usage is not None
    prove(target.provider.id, "llm", "completion")


async def invoke_once(runtime, target) -> None:
    """One call per capability the model declares; each that succeeds is proven for the matrix."""
    provider, kind, model = target.provider.id, target.model.type, target.model
    if target.provider.model(model.id, kind) is None:
        prove(provider, kind, "custom-model")  # proven once the calls below succeed (the test passes)
    if kind == "llm":
        result = await runtime.invoke_chat(target, ChatRequest.user_text("Hi"), stream=False)
        assert result.content
        prove(provider, kind, "invoke")
        streamed = await (await runtime.invoke_chat(target, ChatRequest.user_text("Hi"), stream=True)).collect()
        assert streamed.content or streamed.tool_calls
        assert streamed.usage is not None
        prove(provider, kind, "streaming")
        for feature in ("tool-call", "vision", "structured-output"):
            if model.supports(feature):
                await exercise(runtime, target, feature)
        return
    if kind == "text-embedding":
        assert (await runtime.invoke_embeddings(target, EmbeddingRequest(("a",)))).vectors
    elif kind == "rerank":
        assert (await runtime.invoke_rerank(target, RerankRequest("q", ("a", "b")))).hits
    elif kind == "speech2text":
        assert (await runtime.invoke_transcription(target, TranscriptionRequest(silent_wav()))).text
    elif kind == "tts":
        assert await (await runtime.invoke_speech(target, SpeechRequest("Hi"))).read()
    else:
        assert (await runtime.invoke_moderation(target, ModerationRequest(("Hi",)))).verdicts
    prove(provider, kind, "invoke")
