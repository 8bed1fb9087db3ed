"""Xinference's model description (`GET /v1/models/{model_uid}`): what a custom model's check reads from the server
instead of asking the user to type it (context size, output limit, tools, vision, thinking, completion mode)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest

from modelyard.errors import CredentialValidationError
from modelyard.protocols.xinference import DEFAULT_CONTEXT_SIZE, Xinference
from modelyard.runtime.bindings import default_bindings
from tests.fakes.registry import FAKES, serving
from tests.fakes.xinference import FakeXinference, llm_description
from tests.support import SECRET

protocol = Xinference()


@pytest.fixture
async def fake() -> AsyncIterator[FakeXinference]:
    async with serving(FAKES["xinference"]) as upstream:
        yield upstream


def form(fake, **values: str) -> dict[str, str]:
    return {"server_url": fake.url, "model_uid": "qwen3-uid", "api_key": SECRET, **values}


def target(model_type: str = "llm"):
    binding = default_bindings()["xinference"]
    values = {"server_url": "http://xinference.test:9997", "model_uid": "qwen3-uid"}
    return binding.target(binding.model("qwen3", model_type, values), values)


# --- the description on bytes -------------------------------------------------------------------------------------


def test_an_llms_abilities_and_limits_become_its_form_values() -> None:
    described = llm_description(
        "chat", "tools", "vision", "reasoning", "hybrid", context_length=131072, max_tokens=8192
    )
    assert protocol.parse_model_description(target(), orjson.dumps(described)) == {
        "context_size": "131072",
        "max_tokens_to_sample": "8192",
        "mode": "chat",
        "function_calling_type": "tool_call",
        "vision_support": "support",
        "reasoning_support": "supported",
    }


def test_a_generate_only_model_is_a_completion_model_and_an_unstated_context_is_4096() -> None:
    values = protocol.parse_model_description(target(), orjson.dumps(llm_description("generate", context_length=None)))
    assert values == {
        "context_size": str(DEFAULT_CONTEXT_SIZE),
        "mode": "completion",
        "function_calling_type": "no_call",
        "vision_support": "no_support",
        "reasoning_support": "not_supported",
    }


def test_an_embedder_gives_its_input_limit_only() -> None:
    described = {"model_type": "embedding", "model_name": "bge-m3", "max_tokens": 8192, "dimensions": 1024}
    values = protocol.parse_model_description(target("text-embedding"), orjson.dumps(described))
    assert values == {"context_size": "8192"}  # an embedder's max_tokens is its input limit


@pytest.mark.parametrize(("model_type", "described"), [("llm", "embedding"), ("rerank", "LLM")])
def test_a_uid_of_another_model_type_is_refused_naming_the_uid_field(model_type: str, described: str) -> None:
    with pytest.raises(CredentialValidationError) as caught:
        protocol.parse_model_description(target(model_type), orjson.dumps({"model_type": described}))
    assert caught.value.field == "model_uid"


def test_the_uid_is_escaped_into_the_description_path() -> None:
    binding = default_bindings()["xinference"]
    values = {"server_url": "http://x.test", "model_uid": "org/qwen?3"}
    built = protocol.build_model_description(binding.target(binding.model("q", "llm", values), values))
    assert (built.method, built.url) == ("GET", "http://x.test/v1/models/org%2Fqwen%3F3")


# --- a credential check reads it --------------------------------------------------------------------------------


async def test_a_checked_model_takes_what_the_server_describes_for_the_fields_left_to_it(runtime, fake) -> None:
    fake.descriptions["qwen3-uid"] = llm_description("chat", "tools", "vision", "hybrid", context_length=40960)
    values = await runtime.validate_credentials(
        provider="xinference", model="qwen3", model_type="llm", credentials=form(fake, vision_support="no_support")
    )
    assert [(r.method, r.path) for r in fake.requests] == [
        ("GET", "/v1/models/qwen3-uid"),
        ("POST", "/v1/chat/completions"),
    ]
    assert fake.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    assert values["context_size"] == "40960"
    assert (values["function_calling_type"], values["reasoning_support"]) == ("tool_call", "supported")
    assert values["vision_support"] == "no_support"  # what the user chose stays
    model = default_bindings()["xinference"].model("qwen3", "llm", values)
    assert (model.properties.context_size, model.supports("tool-call"), model.supports("vision")) == (
        40960,
        True,
        False,
    )
    assert "enable_thinking" in {rule.name for rule in model.parameter_rules}  # hybrid: a thinking switch per call


async def test_a_generate_only_model_is_checked_and_called_on_completions(runtime, fake) -> None:
    fake.descriptions["qwen3-uid"] = llm_description("generate", context_length=2048)
    values = await runtime.validate_credentials(
        provider="xinference", model="qwen3-base", model_type="llm", credentials=form(fake)
    )
    assert (values["mode"], values["context_size"]) == ("completion", "2048")
    assert fake.last.path == "/v1/completions"
    result = await runtime.chat(
        provider="xinference", model="qwen3-base", credentials=values, messages=[{"role": "user", "content": "Once"}]
    )
    assert (result.content, fake.last.json["prompt"]) == ("Hello!", "Once")


async def test_a_server_that_does_not_know_the_uid_fails_the_check_before_any_call(runtime, fake) -> None:
    fake.reply_json({"detail": "Model not found in the model list, uid: nope"}, status=400)
    with pytest.raises(CredentialValidationError, match="Model not found"):
        await runtime.validate_credentials(
            provider="xinference", model="nope", model_type="llm", credentials=form(fake)
        )
    assert [r.method for r in fake.requests] == ["GET"]


async def test_a_uid_of_an_embedder_added_as_an_llm_is_refused(runtime, fake) -> None:
    fake.descriptions["qwen3-uid"] = {"model_type": "embedding", "model_name": "bge-m3"}
    with pytest.raises(CredentialValidationError) as caught:
        await runtime.validate_credentials(provider="xinference", model="bge", model_type="llm", credentials=form(fake))
    assert caught.value.field == "model_uid"
