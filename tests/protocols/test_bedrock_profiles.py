"""Which id a Bedrock call names (cross-Region inference per model and per call), and the proxy it goes through."""

from __future__ import annotations

import json

import pytest

from modelyard.errors import CredentialValidationError, InvalidRequestError
from modelyard.protocols.bedrock import Bedrock
from modelyard.runtime.bindings import default_bindings
from modelyard.types import ChatRequest, EmbeddingRequest, Message

BEDROCK = Bedrock()
KEYS = {"auth_method": "access_key", "aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "s"}


def target(model_id: str, region: str = "us-east-1", model_type: str = "llm", **values: str):
    binding = default_bindings()["bedrock"]
    credentials = {**KEYS, "aws_region": region, **values}
    return binding.target(binding.model(model_id, model_type, credentials), credentials)


def hi(**extra: object) -> ChatRequest:
    return ChatRequest(messages=(Message.user("Hi"),), extra=extra)


def called(model_id: str, region: str = "us-east-1", **extra: object) -> str:
    """The model id in the Converse URL."""
    wire = BEDROCK.build_chat(target(model_id, region), hi(**extra), stream=False)
    return wire.url.split("/model/", 1)[1].rsplit("/", 1)[0].replace("%3A", ":")


def test_a_model_is_called_through_its_default_profile() -> None:
    assert called("anthropic.claude-opus-4-8") == "global.anthropic.claude-opus-4-8"
    assert called("amazon.nova-premier-v1:0") == "us.amazon.nova-premier-v1:0"  # no global profile: geographic
    assert called("cohere.command-r-v1:0") == "cohere.command-r-v1:0"  # no profile at all: in-region


@pytest.mark.parametrize(
    ("region", "prefix"),
    [
        ("us-east-2", "us"),
        ("ca-central-1", "us"),  # Canada calls the US profiles
        ("eu-central-1", "eu"),
        ("ap-southeast-1", "apac"),
        ("ap-northeast-1", "apac"),
        ("us-gov-west-1", "us-gov"),
    ],
)
def test_geographic_is_the_profile_of_the_regions_geography(region: str, prefix: str) -> None:
    model = "anthropic.claude-sonnet-4-6"
    assert called(model, region, cross_region="geographic") == f"{prefix}.{model}"


def test_japan_is_called_from_tokyo_or_osaka_only() -> None:
    model = "anthropic.claude-haiku-4-5-20251001-v1:0"
    assert called(model, "ap-northeast-3", cross_region="japan") == f"jp.{model}"
    with pytest.raises(InvalidRequestError) as refused:
        called(model, "ap-southeast-2", cross_region="japan")
    assert refused.value.field == "cross_region"


def test_a_profile_the_model_does_not_have_is_refused_naming_the_parameter() -> None:
    with pytest.raises(InvalidRequestError, match="global, geographic") as refused:
        called("anthropic.claude-opus-4-7", "ap-northeast-1", cross_region="japan")
    assert refused.value.field == "cross_region"
    with pytest.raises(InvalidRequestError, match="can only be none"):
        called("deepseek.v3-v1:0", cross_region="global")
    assert called("amazon.nova-pro-v1:0", cross_region="none") == "amazon.nova-pro-v1:0"


def test_the_choice_is_not_sent_to_the_model() -> None:
    request = hi(cross_region="geographic", top_k=5)
    body = json.loads(BEDROCK.build_chat(target("anthropic.claude-sonnet-4-6"), request, stream=False).body)
    assert body["additionalModelRequestFields"] == {"top_k": 5}


def test_a_custom_model_is_called_by_its_own_id() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"
    custom = target("my-claude", inference_profile=arn, context_size="200000", function_calling_type="tool_call")
    assert custom.model.properties.context_size == 200000 and custom.model.supports("tool-call")
    wire = BEDROCK.build_chat(custom, ChatRequest.user_text("Hi"), stream=False)
    assert "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabc123/" in wire.url


def test_a_custom_embedding_profile_takes_the_body_its_form_names() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/emb1"
    custom = target("my-embedder", model_type="text-embedding", inference_profile=arn, embedding_format="cohere")
    body = json.loads(BEDROCK.build_embeddings(custom, EmbeddingRequest(("a",))).body)
    assert body["texts"] == ["a"]


@pytest.mark.parametrize(
    ("written", "sent"),
    [
        ("proxy.internal:3128", "http://proxy.internal:3128"),
        ("https://proxy.internal:8443/", "https://proxy.internal:8443"),
    ],
)
def test_every_request_carries_the_proxy_the_credentials_name(written: str, sent: str) -> None:
    proxied = target("anthropic.claude-opus-4-8", proxy_url=written)
    assert BEDROCK.build_chat(proxied, ChatRequest.user_text("Hi"), stream=False).proxy == sent
    assert (
        BEDROCK.build_chat(target("anthropic.claude-opus-4-8"), ChatRequest.user_text("Hi"), stream=False).proxy is None
    )


def test_a_proxy_that_is_not_an_address_is_refused_naming_the_field() -> None:
    with pytest.raises(CredentialValidationError) as refused:
        BEDROCK.build_chat(
            target("anthropic.claude-opus-4-8", proxy_url="socks5://x:1"), ChatRequest.user_text("Hi"), stream=False
        )
    assert refused.value.field == "proxy_url"
