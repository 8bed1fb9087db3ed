"""Render docs/capabilities.md from the catalog and the cells the last test run proved (build/capabilities.json).

Run by `make matrix` after the tests. A cell says yes only when a test exercised that capability of that
provider end to end (against the provider's fake upstream, through the runtime).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from modelyard.catalog import default_catalog
from modelyard.catalog.spec import ModelFeature, ModelSpec, ProviderSpec
from modelyard.runtime.bindings import default_bindings
from modelyard.runtime.parameters import GOVERNED
from modelyard.types.chat import CHAT_PARAMETERS

ROOT = Path(__file__).resolve().parent.parent
PROVEN = ROOT / "build" / "capabilities.json"
OUTPUT = ROOT / "docs" / "capabilities.md"
COLUMNS: list[tuple[str, ModelFeature | None]] = [
    ("invoke", None),
    ("streaming", None),
    ("tools", "tool-call"),
    ("vision", "vision"),
    ("structured-output", "structured-output"),
    ("gateway", None),  # configured over the console API, called with the openai SDK through /v1
    ("responses", None),  # and called through /v1/responses (OpenAI's Responses API), answered and streamed
    ("custom-model", None),  # a model added by name with its own form (customizable-model), called end to end
    ("completion", None),  # a chat model in completion mode (the legacy /completions, Ollama's /api/generate)
]


# The model-form variable that switches a feature on for a custom model (catalog/custom.py).
FEATURE_SWITCHES: dict[ModelFeature, str] = {
    "tool-call": "function_calling_type",
    "vision": "vision_support",
    "structured-output": "structured_output_support",
}


def declared(spec: ProviderSpec, model_type: str, feature: ModelFeature | None, column: str) -> bool:
    if column == "custom-model":
        return "customizable-model" in spec.configuration_methods and model_type in spec.custom_types
    if column == "completion":
        return model_type == "llm" and offers_completion_mode(spec)
    if model_type != "llm":
        return column in ("invoke", "gateway")  # tools, vision, structured output and Responses are chat's
    if feature is None:
        return True
    models = [m for m in (*spec.models, *spec.base_models) if m.type == model_type]
    if any(m.supports(feature) for m in models):
        return True
    # A custom model declares a feature through its form: only a form that offers the switch can declare it.
    form = {f.variable for f in spec.model_credentials}
    return "customizable-model" in spec.configuration_methods and FEATURE_SWITCHES[feature] in form


def offers_completion_mode(spec: ProviderSpec) -> bool:
    mode = next((f for f in spec.model_credentials if f.variable == "mode"), None)
    return mode is not None and "completion" in {option.value for option in mode.options}


def render() -> str:
    proven = {tuple(cell) for cell in json.loads(PROVEN.read_text())}
    lines = [
        "# Capability matrix",
        "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `make matrix` from the catalog and the test run.",
        "**yes**: a test exercised it end to end (runtime → protocol → the provider's fake upstream, with the",
        "provider's own signing). **untested**: the catalog declares it but no test proved it yet. **—**: not",
        "declared (or not applicable to the model type). For customizable providers the features are what a",
        "model's form says; the round trip switches them on to exercise the wire path. **gateway**: the",
        "provider was configured over the console API (with its live validation call) and the model type was",
        "called with the `openai` SDK through `/v1`, answering in OpenAI's shape. **responses**: the same chat",
        "model answered `client.responses.create` and `client.responses.stream` through `/v1/responses`.",
        "**custom-model**: a model added by name with its own form (a fine-tune, a model newer than the list, a",
        "self-hosted one) was called end to end. **completion**: a chat model in completion mode (the legacy",
        "`/completions`, Ollama's `/api/generate`) answered the same request, whole and streamed.",
        "",
        "| provider | protocol | model type | " + " | ".join(name for name, _ in COLUMNS) + " |",
        "|---|---|---|" + "---|" * len(COLUMNS),
    ]
    for spec in default_catalog():
        for model_type in spec.supported_model_types:
            cells = []
            for column, feature in COLUMNS:
                if (spec.id, model_type, column) in proven:
                    cells.append("yes")
                elif declared(spec, model_type, feature, column):
                    cells.append("untested")
                else:
                    cells.append("—")
            lines.append(f"| {spec.label.en_US} | {spec.protocol} | {model_type} | " + " | ".join(cells) + " |")
    lines += sign_in_methods()
    lines += per_credential_settings()
    lines += parameter_rules()
    assumed = [spec for spec in default_catalog() if spec.assumptions]
    if assumed:
        lines += ["", "## Choices on unverified wire facts", ""]
        lines += ["Where the vendor's documents leave a fact open, the protocol chose a behaviour; each is listed here"]
        lines += ["from the provider's catalog file (`assumptions:`).", ""]
        for spec in assumed:
            lines += [f"- **{spec.label.en_US}**"]
            lines += [f"  - {assumption.fact} → {assumption.choice}" for assumption in spec.assumptions]
    return "\n".join(lines) + "\n"


def sign_in_methods() -> list[str]:
    """Providers whose form offers a choice of sign-in (`auth_method`): each choice, as the form labels it."""
    lines: list[str] = []
    for spec in default_catalog():
        field = next((f for f in (*spec.credentials, *spec.model_credentials) if f.variable == "auth_method"), None)
        if field is None:
            continue
        if not lines:
            lines = ["", "## Sign-in methods", "", "Where a provider's form offers more than one way to sign in:", ""]
        choices = "; ".join(f"{option.label.en_US} (`{option.value}`)" for option in field.options)
        lines.append(f"- **{spec.label.en_US}** (`{spec.signing.get('scheme', 'none')}`): {choices}")
    return lines


def per_credential_settings() -> list[str]:
    """What a credential's own form decides beyond its keys: custom models on a predefined provider, the model a
    check calls, its own timeout and retries, and what a check reads from the server."""
    lines = [
        "",
        "## Per-credential settings",
        "",
        "| provider | custom models beside the list | model for the credential check | timeout / retries "
        "| read from the server |",
        "|---|---|---|---|---|",
    ]
    bindings = default_bindings()
    for spec in default_catalog():
        both = {"predefined-model", "customizable-model"} <= set(spec.configuration_methods)
        custom = ", ".join(spec.custom_types) if both else ""
        limits = " / ".join(f"`{v}`" for v in (spec.timeout_credential, spec.retries_credential) if v)
        read = ""
        if bindings[spec.id].protocol.describes_models:
            read = "context size, output limit, tools, vision, thinking, completion mode"
        validation = f"`{spec.validate_model_credential}`" if spec.validate_model_credential else ""
        cells = [custom, validation, limits, read]
        if any(cells):
            lines.append(f"| {spec.label.en_US} | " + " | ".join(cell or "—" for cell in cells) + " |")
    return lines


def parameter_rules() -> list[str]:
    """What the runtime does with chat parameters, per provider: what its wire cannot carry, what none of its chat
    models take, and the vendor-fixed and refused values of single models (runtime/parameters.py)."""
    lines = [
        "",
        "## Parameters the runtime adjusts",
        "",
        "Each model's parameter rules apply on every face, library and gateway (runtime/parameters.py): a",
        "parameter the model or its wire does not take is dropped, a number out of range is clamped, a vendor-fixed",
        "one is never sent, an option the model refuses is refused before any call. Every change is reported:",
        "`adjusted_params` on results and streams, the gateway's `x-modelyard-dropped-params` and",
        "`x-modelyard-adjusted-params` headers. Strict mode (`strict_params=True`, or the request header",
        "`x-modelyard-strict-params: true`) refuses instead.",
        "",
        "| provider | no field on the wire | taken by none of its chat models | vendor rules of single models |",
        "|---|---|---|---|",
    ]
    bindings = default_bindings()
    for spec in default_catalog():
        chat = [m for m in spec.models if m.type == "llm" and not m.deprecated]
        if not chat:
            continue
        binding = bindings[spec.id]
        values = {f.variable: f.default or "x" for f in (*spec.credentials, *spec.model_credentials)}
        not_carried = CHAT_PARAMETERS - binding.protocol.carried_parameters(binding.target(chat[0], values))
        listed = {rule.name for model in chat for rule in model.parameter_rules}
        untaken = [name for name in GOVERNED if name not in listed and name not in not_carried]
        cells = [", ".join(sorted(not_carried)) or "—", ", ".join(untaken) or "—", _vendor_rules(chat) or "—"]
        lines.append(f"| {spec.label.en_US} | " + " | ".join(cells) + " |")
    return lines


def _vendor_rules(models: list[ModelSpec]) -> str:
    """Models grouped by their fixed and refusing rules: `kimi-k2.6, kimi-k2.5: temperature fixed 1.0; ...`."""
    grouped: dict[str, list[str]] = {}
    for model in models:
        said = [
            f"{rule.name} fixed {rule.fixed}"
            if rule.fixed is not None
            else f"{rule.name} only {'/'.join(rule.options)}"
            for rule in model.parameter_rules
            if rule.fixed is not None or (rule.action == "refuse" and rule.options)
        ]
        if said:
            grouped.setdefault(", ".join(said), []).append(model.id)
    return "; ".join(f"{', '.join(ids)}: {rules}" for rules, ids in grouped.items())


if __name__ == "__main__":
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(render())
    print(f"wrote {OUTPUT}")
