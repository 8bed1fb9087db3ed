"""The published matrix (scripts/capability_matrix.py): its columns and the sign-in choices it names."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from modelyard.catalog import default_catalog

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "capability_matrix.py"


def matrix() -> ModuleType:
    spec = importlib.util.spec_from_file_location("capability_matrix", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_matrix_lists_the_sign_in_methods_a_provider_form_offers() -> None:
    listed = {line.split("**")[1]: line for line in matrix().sign_in_methods() if line.startswith("- **")}
    assert "`default_chain`" in listed["AWS Bedrock"] and "`api_key`" in listed["AWS Bedrock"]
    assert "`adc`" in listed["Google Cloud (Vertex AI)"]
    assert "`entra_id`" in listed["Azure OpenAI"]


def test_the_matrix_has_a_responses_column_for_chat_models_only() -> None:
    script = matrix()
    openai_spec = default_catalog().get("openai")
    assert "responses" in [name for name, _ in script.COLUMNS]
    assert script.declared(openai_spec, "llm", None, "responses") is True
    assert script.declared(openai_spec, "text-embedding", None, "responses") is False


def test_the_matrix_shows_custom_models_completion_mode_and_per_credential_settings() -> None:
    script = matrix()
    catalog = default_catalog()
    assert script.declared(catalog.get("openai"), "llm", None, "custom-model") is True
    assert script.declared(catalog.get("openai"), "tts", None, "custom-model") is False  # custom llms only
    assert script.declared(catalog.get("gpustack"), "llm", None, "completion") is True
    assert script.declared(catalog.get("deepseek"), "llm", None, "completion") is False
    rows = {line.split(" | ")[0].removeprefix("| "): line for line in script.per_credential_settings()[4:]}
    assert "`validate_model`" in rows["OpenAI"] and "llm" in rows["OpenAI"]
    assert (
        "`invoke_timeout` / `max_retries`" in rows["Xorbits Inference"] and "context size" in rows["Xorbits Inference"]
    )
