"""The spec of a custom model, derived from the values of its credential form.

Customizable providers describe a model through well-known form variables (the same names across provider
files), so a self-hosted model gets features, context size and limits without code:

* `context_size`, `max_tokens_to_sample` (or `max_tokens`), `max_chunks`, `mode`
* `function_calling_type`: `no_call` | `function_call` | `tool_call` (tool_call also allows parallel calls)
* `stream_function_calling`: `supported` | `not_supported`
* `vision_support`: `support` | `no_support`
* `structured_output_support`: `supported` | `not_supported`
* `reasoning_support`: `supported` | `not_supported` (| `always`, where the form offers it)
* `video_support`, `audio_support`, `document_support`: `support` | `no_support`
* `display_name`: the label the console shows
* `voices`: comma-separated voice ids, the first is the default (tts); `dimensions`: default vector size (embeddings)
* the provider's `base_model_credential`, when set, copies one of its `base_models` instead

Beyond those names, the provider file says what a form sets: an option's `quirks`, a text field's `quirk`
(protocol quirks of the model, such as whether streams ask for usage), and the `model_parameter_rules` a custom
llm takes (Ollama's num_ctx ...), each limited by `show_on` to the models whose form holds those values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelyard.catalog.spec import (
    MODEL_TYPE_FIELD,
    I18nText,
    ModelFeature,
    ModelProperties,
    ModelSpec,
    ParameterRule,
    ParameterType,
    ProviderSpec,
    ShowOn,
    Voice,
)
from modelyard.errors import CredentialValidationError
from modelyard.types.model_type import ModelType

# Parameters a custom model takes as given (no range or options to check): a self-hosted server knows its own.
_OPEN_PARAMETERS: tuple[tuple[str, ParameterType], ...] = (
    ("stop", "string"),
    ("seed", "int"),
    ("presence_penalty", "float"),
    ("frequency_penalty", "float"),
    ("reasoning_effort", "string"),
    ("response_format", "string"),
    ("top_k", "int"),
)
_FLAGS: tuple[tuple[str, str, tuple[ModelFeature, ...]], ...] = (
    ("function_calling_type", "function_call", ("tool-call",)),
    ("function_calling_type", "tool_call", ("tool-call", "multi-tool-call")),
    ("stream_function_calling", "supported", ("stream-tool-call",)),
    ("vision_support", "support", ("vision",)),
    ("structured_output_support", "supported", ("structured-output",)),
    ("reasoning_support", "supported", ("reasoning",)),
    ("reasoning_support", "always", ("reasoning",)),
    ("video_support", "support", ("video",)),
    ("audio_support", "support", ("audio",)),
    ("document_support", "support", ("document",)),
)


def custom_model_spec(
    provider: ProviderSpec, model_id: str, model_type: ModelType, values: Mapping[str, str]
) -> ModelSpec:
    """Build the spec of a custom model from its (already checked) credential values."""
    if provider.base_model_credential and values.get(provider.base_model_credential):
        return _from_base_model(provider, model_id, model_type, values[provider.base_model_credential])
    features: list[ModelFeature] = []
    for variable, value, implied in _FLAGS:
        if values.get(variable) == value:
            features.extend(f for f in implied if f not in features)
    voices = tuple(Voice(id=v.strip(), name=v.strip()) for v in values.get("voices", "").split(",") if v.strip())
    properties = ModelProperties(
        mode="completion" if values.get("mode") == "completion" else ("chat" if model_type == "llm" else None),
        context_size=_positive_int(values, "context_size"),
        max_output_tokens=_positive_int(values, "max_tokens_to_sample") or _positive_int(values, "max_tokens"),
        max_chunks=_positive_int(values, "max_chunks"),
        dimensions=_positive_int(values, "dimensions"),
        voices=voices,
        default_voice=voices[0].id if voices else None,  # a request without a voice takes the first one listed
    )
    rules: tuple[ParameterRule, ...] = ()
    if model_type == "llm":
        # A self-hosted server decides what it takes: every parameter is listed, so the runtime drops none of them
        # (their ranges are the common ones; a server with narrower ones answers for itself).
        rules = (
            ParameterRule(name="temperature", use_template="temperature", type="float", min=0, max=2),
            ParameterRule(name="top_p", use_template="top_p", type="float", min=0, max=1),
            ParameterRule(
                name="max_tokens",
                use_template="max_tokens",
                type="int",
                min=1,
                max=properties.max_output_tokens or properties.context_size,
            ),
            *(ParameterRule(name=name, use_template=name, type=kind) for name, kind in _OPEN_PARAMETERS),
            *(
                rule.model_copy(update={"show_on": ()})
                for rule in provider.model_parameter_rules
                if _holds(rule.show_on, values, model_type)
            ),
        )
    display_name = values.get("display_name", "").strip()
    return ModelSpec(
        id=model_id,
        label=I18nText(en_US=display_name) if display_name else None,
        type=model_type,
        features=tuple(features),
        properties=properties,
        parameter_rules=rules,
        quirks=form_quirks(provider, model_type, values),
    )


def form_quirks(provider: ProviderSpec, model_type: ModelType, values: Mapping[str, str]) -> dict[str, Any]:
    """The quirks a custom model's form sets: each shown field's chosen option, or a text field's own value."""
    quirks: dict[str, Any] = {}
    for field in provider.model_credentials:
        value = values.get(field.variable)
        if not value or not _holds(field.show_on, values, model_type):
            continue
        if field.quirk is not None:
            quirks[field.quirk] = value
        for option in field.options:
            if option.value == value:
                quirks.update(option.quirks)
    return quirks


def _holds(conditions: tuple[ShowOn, ...], values: Mapping[str, str], model_type: ModelType) -> bool:
    return all(
        (model_type if condition.variable == MODEL_TYPE_FIELD else values.get(condition.variable)) == condition.value
        for condition in conditions
    )


def _from_base_model(provider: ProviderSpec, model_id: str, model_type: ModelType, base_id: str) -> ModelSpec:
    for base in provider.base_models:
        if base.id == base_id and base.type == model_type:
            return base.model_copy(update={"id": model_id, "label": None})
    raise CredentialValidationError(
        f"{provider.base_model_credential}: {base_id!r} is not a known {model_type} base model of {provider.id}",
        field=provider.base_model_credential,
    )


def _positive_int(values: Mapping[str, str], variable: str) -> int | None:
    raw = values.get(variable)
    if raw in (None, ""):
        return None
    try:
        number = int(str(raw))
    except ValueError:
        raise CredentialValidationError(f"{variable} must be a whole number, got {raw!r}", field=variable) from None
    if number <= 0:
        raise CredentialValidationError(f"{variable} must be positive", field=variable)
    return number
