"""The parameter-rule mechanism over the whole catalog: every chat model of every provider gets each parameter sent as
given, or changed and reported, or refused naming it; nothing is lost without a word."""

from __future__ import annotations

from typing import Any

import pytest
from msgspec.structs import replace

from modelyard.catalog import default_catalog
from modelyard.catalog.spec import ModelSpec, ProviderSpec
from modelyard.errors import ModelyardError
from modelyard.protocols.anthropic.requests import api_version
from modelyard.runtime.bindings import default_bindings
from modelyard.runtime.parameters import GOVERNED, apply_parameter_rules, rules_of
from modelyard.types import ChatRequest, Message, ResponseFormat
from tests.catalog.filling import configuration

CATALOG = default_catalog()
CHAT_MODELS = [
    (spec.id, model.id) for spec in CATALOG for model in (*spec.models, *spec.base_models) if model.type == "llm"
]
EVERY_PARAMETER: dict[str, Any] = {
    "temperature": 0.7,
    "top_p": 0.9,
    "max_tokens": 256,
    "stop": ("END",),
    "seed": 1,
    "presence_penalty": 0.1,
    "frequency_penalty": 0.1,
    "reasoning_effort": "low",
    "response_format": ResponseFormat("json_object"),
    "tool_choice": "auto",
    "user": "u-1",
    "parallel_tool_calls": True,
}


def _model(spec: ProviderSpec, model_id: str) -> ModelSpec:
    return next(m for m in (*spec.models, *spec.base_models) if m.id == model_id and m.type == "llm")


@pytest.mark.parametrize(("provider_id", "model_id"), CHAT_MODELS)
def test_every_parameter_is_sent_as_given_or_reported_or_refused_by_name(provider_id: str, model_id: str) -> None:
    binding = default_bindings()[provider_id]
    model = _model(binding.spec, model_id)
    _, _, values = configuration(binding.spec, "llm", "http://127.0.0.1:9", custom=not binding.spec.models)
    target = binding.target(model, values)
    carried = binding.protocol.carried_parameters(target)
    request = ChatRequest(messages=(Message.user("Hi"),), extra={"top_k": 5}, **EVERY_PARAMETER)
    while True:
        refusal: ModelyardError | None = None
        try:
            sent, adjusted = apply_parameter_rules(model, request, carried, provider=provider_id)
        except ModelyardError as exc:  # a refusal names its parameter; take it out and look at the rest
            refusal = exc
        if refusal is None:
            break
        field = getattr(refusal, "field", None)
        assert field in EVERY_PARAMETER, f"a refusal that names no parameter: {refusal}"
        request = replace(request, **{field: None})
    reported = {a.name for a in adjusted}
    rules = rules_of(model)
    for name in (*EVERY_PARAMETER, "top_k"):
        given = request.extra.get(name) if name == "top_k" else getattr(request, name)
        went = sent.extra.get(name) if name == "top_k" else getattr(sent, name)
        if given is None or went == given or name in reported:
            continue
        rule = rules.get(name)
        assert rule is not None and rule.fixed is not None, f"{name} changed without a word ({given!r} -> {went!r})"


@pytest.mark.parametrize(("provider_id", "model_id"), CHAT_MODELS)
def test_rules_are_coherent(provider_id: str, model_id: str) -> None:
    model = _model(CATALOG.get(provider_id), model_id)
    for rule in model.parameter_rules:
        if rule.action == "clamp":
            assert rule.min is not None or rule.max is not None, f"{rule.name}: clamps without a range"
        if rule.fixed is not None and not isinstance(rule.fixed, str):
            low = rule.min if rule.min is not None else rule.fixed
            high = rule.max if rule.max is not None else rule.fixed
            assert low <= rule.fixed <= high, f"{rule.name}: fixed {rule.fixed} is outside its own range"
        if rule.fixed is not None or rule.action == "refuse":
            assert rule.source, f"{rule.name}: a vendor-fixed or refusing rule says where it comes from (source)"
        if rule.options and rule.default is not None and not isinstance(rule.default, bool):
            assert str(rule.default) in rule.options, f"{rule.name}: default {rule.default!r} is not an option"


def _anthropic_api_version(provider_id: str) -> str:
    binding = default_bindings()[provider_id]
    model = next(m for m in binding.spec.models if m.type == "llm")
    return api_version(binding.target(model, configuration(binding.spec, "llm", "http://127.0.0.1:9")[2]))


# Only an API version from 2026-10-21 on refuses sampling parameters; a provider pinning an older one takes them.
ANTHROPIC_VERSIONS = [(spec.id, _anthropic_api_version(spec.id)) for spec in CATALOG if spec.protocol == "anthropic"]
SAMPLING_REFUSED = [(provider_id, version) for provider_id, version in ANTHROPIC_VERSIONS if version >= "2026-10-21"]


def test_some_anthropic_provider_pins_an_api_version_that_refuses_sampling() -> None:
    assert SAMPLING_REFUSED, f"no Anthropic-wire provider is checked below: {ANTHROPIC_VERSIONS}"


@pytest.mark.parametrize(("provider_id", "version"), SAMPLING_REFUSED)
def test_anthropic_models_list_no_sampling_their_api_version_refuses(provider_id: str, version: str) -> None:
    binding = default_bindings()[provider_id]
    for model in binding.spec.models:
        listed = {rule.name for rule in model.parameter_rules} & {"temperature", "top_p", "top_k"}
        assert not listed, f"{model.id} lists {listed}, which API version {version} refuses"


# A provider whose custom models name a base model (base_model_credential) copies that model's rules instead.
OWN_RULES_CUSTOM_LLM = [
    spec.id
    for spec in CATALOG
    if "customizable-model" in spec.configuration_methods
    and "llm" in spec.supported_model_types
    and not spec.base_model_credential
]


@pytest.mark.parametrize("provider_id", OWN_RULES_CUSTOM_LLM)
def test_a_custom_model_takes_every_governed_parameter(provider_id: str) -> None:
    spec = CATALOG.get(provider_id)
    _, model_id, values = configuration(spec, "llm", "http://127.0.0.1:9", custom=True)
    model = default_bindings()[provider_id].model(model_id, "llm", values)
    assert set(GOVERNED) <= set(rules_of(model)), "the server decides what it takes: the runtime drops nothing"
