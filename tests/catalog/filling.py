"""What a user would type into a provider's forms, so a test can configure any catalog provider against its fake."""

from __future__ import annotations

from modelyard.catalog.forms import check_values
from modelyard.catalog.spec import FormField, ModelSpec, ProviderSpec
from tests.support import SECRET

# What a customizable provider's form is set to, so every feature's wire path is exercised.
FEATURES_ON = {
    "function_calling_type": "tool_call",
    "stream_function_calling": "supported",
    "vision_support": "support",
    "structured_output_support": "supported",
}
CUSTOM_MODEL = "my-model"


def fill_form(form: tuple[FormField, ...], url: str) -> dict[str, str]:
    """Values a user would type: the key, the fake's URL for address fields, defaults and first options."""
    values = {}
    for field in form:
        if field.is_secret:
            values[field.variable] = SECRET
        elif field.options:
            values[field.variable] = field.default or field.options[0].value
        elif field.quirk is not None:  # an override of the protocol's default (a rerank URL ...): left empty
            continue
        elif "url" in field.variable or field.variable.endswith(("_base", "_host")):
            values[field.variable] = url
        elif field.default is not None:
            values[field.variable] = field.default
        elif field.required:
            values[field.variable] = "4096" if field.variable in ("context_size", "max_tokens_to_sample") else "x"
    return values


def configuration(
    spec: ProviderSpec, model_type: str, url: str, *, custom: bool = False
) -> tuple[ModelSpec | None, str, dict[str, str]]:
    """The model to call for `model_type` and the checked form values that reach it.

    A catalog model when the provider lists one (the current one that declares the most, so each declared
    capability is exercised; the values are the provider's credentials), else (or when `custom`) a custom model
    named CUSTOM_MODEL with every feature its form offers switched on (the values are the model's credentials).
    """
    of_type = sorted((m for m in spec.models if m.type == model_type), key=lambda m: (m.deprecated, -len(m.features)))
    if of_type and not custom:
        return of_type[0], of_type[0].id, check_values(spec.credentials, fill_form(spec.credentials, url))
    assert "customizable-model" in spec.configuration_methods, f"{model_type}: neither a model nor customizable"
    values = fill_form(spec.model_credentials, url)
    form = {f.variable: f for f in spec.model_credentials}
    for variable, value in FEATURES_ON.items():
        if variable in form and value in {option.value for option in form[variable].options}:
            values[variable] = value
    if spec.base_model_credential:
        base = max((m for m in spec.base_models if m.type == model_type), key=lambda m: len(m.features))
        values[spec.base_model_credential] = base.id
    return None, CUSTOM_MODEL, check_values(spec.model_credentials, values)
