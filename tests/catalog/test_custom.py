"""A custom model's spec from its form: features, label, the quirks its choices set, the parameters it takes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelyard.catalog import default_catalog
from modelyard.catalog.custom import custom_model_spec
from modelyard.catalog.loader import CATALOG_DIR, load_catalog
from modelyard.errors import CatalogError
from modelyard.runtime.bindings import bind_catalog, default_bindings

COMPATIBLE = default_catalog().get("openai_api_compatible")


def spec(model_type: str = "llm", **values: str):
    return custom_model_spec(COMPATIBLE, "m", model_type, {"endpoint_url": "http://h/v1", **values})  # type: ignore[arg-type]


def test_the_display_name_and_the_input_flags_describe_the_model() -> None:
    model = spec(display_name=" Qwen on the lab box ", video_support="support", document_support="support")
    assert model.display_label.en_US == "Qwen on the lab box"
    assert {"video", "document"} <= set(model.features) and "audio" not in model.features
    assert spec().label is None


def test_chosen_options_and_text_fields_set_the_models_quirks() -> None:
    model = spec(
        compatibility_mode="extended",
        reasoning_support="always",
        token_param_name="auto",
        stream_include_usage="disabled",
        user_identity_support="no_support",
    )
    assert model.quirks == {
        "thinking_parameters": ["chat_template_kwargs", "thinking", "enable_thinking"],
        "thinking_default": True,
        "max_tokens_field": "auto",
        "supports_stream_options": False,
        "unsupported_parameters": ["user"],
    }
    embedder = spec("text-embedding", query_prefix="query: ", encoding_format="not_set")
    assert embedder.quirks == {"embedding_query_prefix": "query: ", "embedding_encoding": None}


def test_a_field_hidden_for_the_model_type_sets_nothing() -> None:
    assert spec("text-embedding", compatibility_mode="extended", stream_include_usage="disabled").quirks == {}
    assert spec("llm", query_prefix="query: ").quirks == {}


def test_provider_parameter_rules_apply_when_their_conditions_hold() -> None:
    both = {rule.name for rule in spec(reasoning_support="supported").parameter_rules}
    never = {rule.name for rule in spec(reasoning_support="not_supported").parameter_rules}
    assert {"enable_thinking", "min_p", "repetition_penalty"} <= both
    assert "enable_thinking" not in never and "min_p" in never
    assert not spec("text-embedding").parameter_rules


def test_the_runtimes_custom_model_is_built_from_the_values_that_describe_it_never_a_secret() -> None:
    binding = default_bindings()["openai_api_compatible"]
    assert "compatibility_mode" in binding.describing and "query_prefix" in binding.describing
    assert "api_key" not in binding.describing
    model = binding.model(
        "m", "llm", {"endpoint_url": "http://h/v1", "api_key": "sk-1", "compatibility_mode": "extended"}
    )
    assert model.quirks["thinking_parameters"] == ["chat_template_kwargs", "thinking", "enable_thinking"]
    assert binding.target(model, {"endpoint_url": "http://h/v1"}).quirks.thinking_parameters == (
        "chat_template_kwargs",
        "thinking",
        "enable_thinking",
    )  # type: ignore[attr-defined]


@pytest.fixture
def compatible_copy(tmp_path: Path) -> Path:
    (tmp_path / "providers").mkdir()
    shutil.copy(CATALOG_DIR / "parameter_templates.yaml", tmp_path)
    shutil.copytree(CATALOG_DIR / "icons", tmp_path / "icons")
    shutil.copy(CATALOG_DIR / "providers" / "openai_api_compatible.yaml", tmp_path / "providers")
    return tmp_path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("quirk: embedding_query_prefix", "quirk: embedding_query_prefx", r"query_prefix\.quirk: unknown quirk"),
        ("quirks: {max_tokens_field: auto}", "quirks: {max_tokens_field: sometimes}", r"options\.auto\.quirks"),
    ],
)
def test_a_form_that_sets_an_unknown_or_bad_quirk_fails_at_start_up(
    compatible_copy: Path, old: str, new: str, message: str
) -> None:
    path = compatible_copy / "providers" / "openai_api_compatible.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(CatalogError, match=message):
        bind_catalog(load_catalog(compatible_copy))
