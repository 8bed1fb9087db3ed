"""Metric labels stay bounded: a model is named only when the catalog lists it for its provider."""

from __future__ import annotations

from modelyard.gateway.metrics import CUSTOM_MODEL_LABEL, Metrics
from modelyard.types import Usage


def test_catalog_models_are_labelled_and_custom_ones_collapse() -> None:
    metrics = Metrics()

    assert metrics.model_label("deepseek", "deepseek-flash") == "deepseek-flash"
    assert metrics.model_label("deepseek", "my-fine-tune") == CUSTOM_MODEL_LABEL
    assert metrics.model_label("ollama", "llama3.1:8b-acme") == CUSTOM_MODEL_LABEL
    assert metrics.model_label("no_such_provider", "deepseek-flash") == CUSTOM_MODEL_LABEL


def test_a_thousand_custom_names_make_one_series() -> None:
    metrics = Metrics()

    for number in range(1000):
        metrics.usage(
            "openai_api_compatible", f"tenant-model-{number}", Usage(prompt_tokens=2, completion_tokens=1), "custom"
        )

    samples = [s for m in metrics.registry.collect() if m.name == "modelyard_tokens" for s in m.samples]
    models = {s.labels["model"] for s in samples if s.name == "modelyard_tokens_total"}
    assert models == {CUSTOM_MODEL_LABEL}
    prompt = next(s for s in samples if s.name == "modelyard_tokens_total" and s.labels["kind"] == "prompt")
    assert prompt.value == 2000
