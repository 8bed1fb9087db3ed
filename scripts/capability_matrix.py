"""Render docs/capabilities.md from the catalog and the cells the last test run proved (build/capabilities.json).

Run by `make matrix` after the tests. A cell says yes only when a test exercised that capability of that
provider end to end (against the provider's fake upstream, through the runtime).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from modelyard.catalog import default_catalog
from modelyard.catalog.spec import ModelFeature, ProviderSpec

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
]


# The model-form variable that switches a feature on for a custom model (catalog/custom.py).
FEATURE_SWITCHES: dict[ModelFeature, str] = {
    "tool-call": "function_calling_type",
    "vision": "vision_support",
    "structured-output": "structured_output_support",
}


def declared(spec: ProviderSpec, model_type: str, feature: ModelFeature | None, column: str) -> bool:
    if model_type != "llm":
        return column in ("invoke", "gateway")
    if feature is None:
        return True
    models = [m for m in (*spec.models, *spec.base_models) if m.type == model_type]
    if any(m.supports(feature) for m in models):
        return True
    # A custom model declares a feature through its form: only a form that offers the switch can declare it.
    form = {f.variable for f in spec.model_credentials}
    return "customizable-model" in spec.configuration_methods and FEATURE_SWITCHES[feature] in form


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
        "called with the `openai` SDK through `/v1`, answering in OpenAI's shape.",
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
    assumed = [spec for spec in default_catalog() if spec.assumptions]
    if assumed:
        lines += ["", "## Choices on unverified wire facts", ""]
        lines += ["Where the vendor's documents leave a fact open, the protocol chose a behaviour; each is listed here"]
        lines += ["from the provider's catalog file (`assumptions:`).", ""]
        for spec in assumed:
            lines += [f"- **{spec.label.en_US}**"]
            lines += [f"  - {assumption.fact} → {assumption.choice}" for assumption in spec.assumptions]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(render())
    print(f"wrote {OUTPUT}")
