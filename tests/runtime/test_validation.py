"""The model a credential check calls: the one the user names in the credentials' validation field (Dify's
validate_model / model_for_validation), for accounts that may not call the provider's default check model."""

from __future__ import annotations

import pytest

from modelyard.errors import CredentialValidationError
from tests.fakes.registry import FAKES, serving
from tests.support import SECRET


def openai_credentials(fake_openai, **more: str) -> dict[str, str]:
    return {"openai_api_key": SECRET, "openai_api_base": fake_openai.url, **more}


async def test_openai_checks_with_the_default_model_unless_the_user_names_one(runtime, fake_openai) -> None:
    await runtime.validate_credentials(provider="openai", credentials=openai_credentials(fake_openai))
    assert fake_openai.last.json["model"] == "gpt-6-luna"
    values = openai_credentials(fake_openai, validate_model="gpt-4.1-mini")
    assert (await runtime.validate_credentials(provider="openai", credentials=values))[
        "validate_model"
    ] == "gpt-4.1-mini"
    assert fake_openai.last.json["model"] == "gpt-4.1-mini"


async def test_an_account_without_the_default_model_passes_with_a_model_it_may_call(runtime, fake_openai) -> None:
    fake_openai.fail(
        404, "The model `gpt-6-luna` does not exist or you do not have access to it.", code="model_not_found"
    )
    with pytest.raises(CredentialValidationError, match="does not exist"):
        await runtime.validate_credentials(provider="openai", credentials=openai_credentials(fake_openai))
    named = openai_credentials(fake_openai, validate_model="gpt-4o-2024-08-06")  # a snapshot the catalog does not list
    await runtime.validate_credentials(provider="openai", credentials=named)
    assert (fake_openai.last.path, fake_openai.last.json["model"]) == ("/v1/chat/completions", "gpt-4o-2024-08-06")


async def test_zhipu_checks_with_the_model_the_user_names(runtime) -> None:
    async with serving(FAKES["zhipu"]) as fake:
        endpoint = f"{fake.url}/api/paas/v4"
        credentials = {"api_key": SECRET, "endpoint_url": endpoint, "validate_model": "glm-4.5-flash"}
        await runtime.validate_credentials(provider="zhipuai", credentials=credentials)
        assert fake.requests[-1].json["model"] == "glm-4.5-flash"


async def test_bedrock_checks_with_the_model_for_validation(runtime) -> None:
    async with serving(FAKES["bedrock"]) as fake:
        credentials = {
            "auth_method": "access_key",
            "aws_access_key_id": SECRET,
            "aws_secret_access_key": SECRET,
            "aws_region": "us-east-1",
            "model_for_validation": "amazon.nova-pro-v1:0",
        }
        await runtime.validate_credentials(provider="bedrock", credentials=credentials, base_url=fake.url)
        # a model the catalog lists is called as the catalog says: here through its US cross-Region profile
        assert fake.requests[-1].path == "/model/us.amazon.nova-pro-v1:0/converse"


async def test_a_custom_models_check_calls_that_model_whatever_the_field_says(runtime, fake_openai) -> None:
    values = openai_credentials(fake_openai, context_size="8192")
    await runtime.validate_credentials(
        provider="openai", model="ft:gpt-4.1:acme::x1", model_type="llm", credentials=values
    )
    assert fake_openai.last.json["model"] == "ft:gpt-4.1:acme::x1"
