"""Azure OpenAI's form and URLs: base models offered by the type of model being added, the v1 API beside the
dated deployment URLs."""

from __future__ import annotations

import pytest

from modelyard.catalog.spec import MODEL_TYPE_FIELD
from modelyard.errors import CredentialValidationError
from modelyard.runtime.bindings import default_bindings
from modelyard.types import Message
from tests.fakes.loopback import served
from tests.fakes.openai import FakeOpenAI
from tests.support import SECRET

BINDING = default_bindings()["azure_openai"]


def test_each_base_model_is_offered_only_for_its_own_model_type() -> None:
    field = next(f for f in BINDING.spec.model_credentials if f.variable == BINDING.spec.base_model_credential)
    types = {model.id: model.type for model in BINDING.spec.base_models}
    assert {option.value for option in field.options} == set(types)
    for option in field.options:
        assert [(c.variable, c.value) for c in option.show_on] == [(MODEL_TYPE_FIELD, types[option.value])]


def test_a_base_model_of_another_type_is_refused_naming_the_field() -> None:
    with pytest.raises(CredentialValidationError) as refused:
        BINDING.model("my-embedder", "text-embedding", {"base_model_name": "gpt-4.1"})
    assert refused.value.field == "base_model_name"


@pytest.mark.parametrize(
    ("version", "path", "query"),
    [
        ("v1", "/openai/v1/embeddings", {}),
        ("2024-10-21", "/openai/deployments/my-embedder/embeddings", {"api-version": "2024-10-21"}),
    ],
)
async def test_v1_needs_no_dated_version_and_names_the_deployment_in_the_body(runtime, version, path, query) -> None:
    async with served(FakeOpenAI()) as azure:
        credentials = {
            "openai_api_base": azure.url,
            "openai_api_key": SECRET,
            "openai_api_version": version,
            "base_model_name": "text-embedding-3-small",
        }
        await runtime.embed(provider="azure_openai", model="my-embedder", credentials=credentials, texts=["a"])
        await runtime.chat(
            provider="azure_openai",
            model="my-gpt",
            credentials={**credentials, "base_model_name": "gpt-4.1"},
            messages=[Message.user("Hi")],
        )
    embedded, chatted = azure.requests
    assert (embedded.path, embedded.query, embedded.json["model"]) == (path, query, "my-embedder")
    assert chatted.path == path.replace("embedder", "gpt").replace("embeddings", "chat/completions")
    assert chatted.json["model"] == "my-gpt" and embedded.headers["api-key"] == SECRET
