from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelyard.catalog.loader import CATALOG_DIR, load_catalog
from modelyard.errors import CatalogError
from modelyard.runtime.bindings import bind_catalog


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Path:
    """A copy of the shipped catalog with only deepseek, to break on purpose."""
    (tmp_path / "providers").mkdir()
    shutil.copy(CATALOG_DIR / "parameter_templates.yaml", tmp_path)
    shutil.copytree(CATALOG_DIR / "icons", tmp_path / "icons")
    shutil.copy(CATALOG_DIR / "providers" / "deepseek.yaml", tmp_path / "providers")
    return tmp_path


def rewrite(catalog: Path, old: str, new: str) -> Path:
    path = catalog / "providers" / "deepseek.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


def test_the_copy_loads(catalog_copy: Path) -> None:
    assert [p.id for p in load_catalog(catalog_copy)] == ["deepseek"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("type: llm", "type: chatbot", r"models\.deepseek-flash\.type"),
        ('input: "0.15"', 'input: "cheap"', r"models\.deepseek-flash\.pricing\.input"),
        ("context_size: 1048576", "context_size: -1", r"context_size"),
        ("protocol: openai", "protocol: openai\nprotocl: x", r"protocl: Extra inputs are not permitted"),
        ("use_template: temperature}", "use_template: temprature}", r"unknown template 'temprature'"),
        ("type: secret-input", "type: password", r"credentials\.0\.type"),
        ("- {name: top_p, use_template: top_p}", "- {name: top_p, use_template: top_p, bogus: 1}", r"bogus"),
        ('base_url: "{endpoint_url}"', 'base_url: "{endpoint}"', r"placeholder \{endpoint\}"),
        ("icon: deepseek.svg", "icon: missing.svg", r"icon 'missing.svg'"),
        ("id: deepseek\n", "id: deep_seek\n", r"does not match the file name"),
        ("models:\n", "models: [\n", r"deepseek.yaml"),
    ],
)
def test_a_broken_file_fails_naming_the_file_and_the_field(
    catalog_copy: Path, old: str, new: str, message: str
) -> None:
    rewrite(catalog_copy, old, new)
    with pytest.raises(CatalogError, match=message) as caught:
        load_catalog(catalog_copy)
    assert "deepseek.yaml" in str(caught.value)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("protocol: openai", "protocol: smoke-signals", r"protocol: unknown protocol 'smoke-signals'"),
        ("max_tokens_field: max_tokens ", "max_tokens_field: max_toks ", r"quirks\.max_tokens_field"),
        ("reasoning_replay: tool-call-turns", "reasoning_replay: sometimes", r"quirks\.reasoning_replay"),
        ("scheme: bearer, credential: api_key", "scheme: bearer, credential: token", r"signing reads credentials"),
        ("scheme: bearer", "scheme: carrier-pigeon", r"signing\.scheme"),
    ],
)
def test_protocol_signing_and_quirks_are_checked_at_binding(
    catalog_copy: Path, old: str, new: str, message: str
) -> None:
    rewrite(catalog_copy, old, new)
    with pytest.raises(CatalogError, match=message) as caught:
        bind_catalog(load_catalog(catalog_copy))
    assert "deepseek.yaml" in str(caught.value)


def test_the_position_file_must_name_existing_providers(catalog_copy: Path) -> None:
    (catalog_copy / "providers" / "_position.yaml").write_text("- deepseek\n- nonexistent\n")
    with pytest.raises(CatalogError, match="nonexistent"):
        load_catalog(catalog_copy)


def test_a_models_own_output_limit_wins_over_a_shared_max_tokens_rule(catalog_copy: Path) -> None:
    shared = (
        "  - {id: big, type: llm, properties: {max_output_tokens: 65536}, parameter_rules: &shared\n"
        "      [{name: max_tokens, use_template: max_tokens, default: 8192, max: 32768}]}\n"
        "  - {id: small, type: llm, properties: {max_output_tokens: 4096}, parameter_rules: *shared}\n"
        "  - {id: unstated, type: llm, parameter_rules: *shared}\n"
    )
    rewrite(catalog_copy, "models:\n", "models:\n" + shared)
    provider = load_catalog(catalog_copy).get("deepseek")

    def limits(model_id: str) -> tuple[float | None, object]:
        model = provider.model(model_id)
        assert model is not None
        rule = next(r for r in model.parameter_rules if r.name == "max_tokens")
        return rule.max, rule.default

    assert limits("big") == (65536, 8192)  # above the shared rule's cap
    assert limits("small") == (4096, 4096)  # below it, and the default follows
    assert limits("unstated") == (32768, 8192)  # no limit of its own: the shared rule stands
