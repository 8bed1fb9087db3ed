"""Azure OpenAI sign-in: the resource key, or a Microsoft Entra ID service principal's token.

azure-identity is not among the test dependencies, so the token request is held to the one Microsoft's identity
platform documents for the client credentials grant (and azure-identity's ClientSecretCredential sends): a form
POST to {authority}/{tenant}/oauth2/v2.0/token with client_id, client_secret, scope and grant_type. A fake Entra
ID on loopback then checks the whole sign-in: exchange, caching, a new token on 401, renewal before expiry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

import openai
import pytest

from modelyard.errors import CredentialValidationError, UpstreamAuthError
from modelyard.runtime.access_tokens import TokenCache
from modelyard.runtime.invoke import Runtime
from modelyard.signing.azure import Azure, AzureParams
from modelyard.types import Message
from tests.fakes.entra import FakeEntraID
from tests.fakes.loopback import served
from tests.fakes.openai import FakeOpenAI

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT_ID = "4a1aa1d5-c567-49d0-ad0b-cd957a47f842"
CLIENT_SECRET = "Zx8Q~modelyard.client.secret-0001"
SCHEME, PARAMS = Azure(), AzureParams()
ENTRA = {
    "auth_method": "entra_id",
    "azure_tenant_id": TENANT,
    "azure_client_id": CLIENT_ID,
    "azure_client_secret": CLIENT_SECRET,
}


def test_the_token_request_is_the_documented_client_credentials_grant() -> None:
    request = SCHEME.token_request(PARAMS, ENTRA, 0.0)
    assert (request.method, request.url) == ("POST", f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token")
    assert request.headers == {"Content-Type": "application/x-www-form-urlencoded"}
    assert dict(parse_qsl(request.body.decode())) == {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scope": "https://cognitiveservices.azure.com/.default",
        "grant_type": "client_credentials",
    }


def test_a_tenant_that_is_not_an_id_or_domain_never_reaches_the_url() -> None:
    with pytest.raises(CredentialValidationError) as refused:
        SCHEME.token_request(PARAMS, {**ENTRA, "azure_tenant_id": "evil/../../x"}, 0.0)
    assert refused.value.field == "azure_tenant_id"


def test_the_key_goes_in_api_key_and_a_token_replaces_it_as_a_bearer() -> None:
    from modelyard.protocols.base import UpstreamRequest

    request = UpstreamRequest("POST", "https://r.openai.azure.com/openai/v1/chat/completions", {}, b"{}")
    assert SCHEME.sign(PARAMS, {"openai_api_key": "k"}, request).headers == {"api-key": "k"}
    assert not SCHEME.needs_token(PARAMS, {"openai_api_key": "k"})  # a credential saved before auth_method existed
    assert SCHEME.needs_token(PARAMS, ENTRA)
    signed = SCHEME.sign_with_token(PARAMS, ENTRA, request, "tok")
    assert signed.headers == {"Authorization": "Bearer tok"}
    assert SCHEME.parse_token(PARAMS, b'{"access_token": "t", "expires_in": "3599"}', 100.0).expires_at == 3699.0


# --- through the runtime, against Entra ID and Azure OpenAI fakes ------------------------------------------------


@pytest.fixture
async def entra() -> AsyncIterator[FakeEntraID]:
    async with served(FakeEntraID({(TENANT, CLIENT_ID): CLIENT_SECRET})) as fake:
        yield fake


@pytest.fixture
async def azure() -> AsyncIterator[FakeOpenAI]:
    async with served(FakeOpenAI()) as fake:
        yield fake


@pytest.fixture
async def runtime_at(entra: FakeEntraID) -> AsyncIterator[Runtime]:
    """A runtime whose Azure provider signs in at the fake Entra ID instead of login.microsoftonline.com."""
    async with Runtime() as runtime:
        binding = runtime.bindings["azure_openai"]
        params = binding.signing_params.model_copy(update={"authority": entra.url})
        runtime.bindings["azure_openai"] = dataclasses.replace(binding, signing_params=params)
        yield runtime


def deployment(azure: FakeOpenAI, **values: str) -> dict[str, str]:
    return {"openai_api_base": azure.url, "base_model_name": "gpt-4.1", "openai_api_version": "v1", **ENTRA, **values}


async def chat(runtime: Runtime, credentials: dict[str, str]) -> str:
    result = await runtime.chat(
        provider="azure_openai", model="my-gpt", credentials=credentials, messages=[Message.user("Hi")]
    )
    return result.content


async def test_a_v1_chat_with_entra_id_equals_the_openai_sdks_with_that_token(runtime_at, entra, azure) -> None:
    assert await chat(runtime_at, deployment(azure)) == "Hello!"
    (token,) = entra.issued
    client = openai.AsyncOpenAI(base_url=f"{azure.url}/openai/v1", api_key=token, max_retries=0)
    try:
        await client.chat.completions.create(model="my-gpt", messages=[{"role": "user", "content": "Hi"}])
    finally:
        await client.close()
    ours, theirs = azure.requests[-2], azure.requests[-1]
    assert (ours.path, ours.query, ours.json) == (theirs.path, theirs.query, theirs.json)
    assert ours.path == "/openai/v1/chat/completions" and ours.query == {}
    assert ours.headers["authorization"] == theirs.headers["authorization"] == f"Bearer {token}"
    assert "api-key" not in ours.headers


async def test_the_token_is_cached_and_fetched_again_when_azure_refuses_it(runtime_at, entra, azure) -> None:
    credentials = deployment(azure, openai_api_version="2024-10-21")
    assert await chat(runtime_at, credentials) == "Hello!"
    assert await chat(runtime_at, credentials) == "Hello!"
    assert len(entra.requests) == 1
    assert azure.requests[-1].path == "/openai/deployments/my-gpt/chat/completions"
    azure.fail(401, "Access token is missing, invalid or expired.")  # revoked before its time
    assert await chat(runtime_at, credentials) == "Hello!"
    assert len(entra.requests) == 2
    assert azure.requests[-1].headers["authorization"] == f"Bearer {entra.issued[-1]}"


async def test_the_token_is_renewed_shortly_before_it_expires(runtime_at, entra, azure) -> None:
    clock = [1_000_000.0]
    runtime_at.tokens = TokenCache(runtime_at.transport, clock=lambda: clock[0])
    await chat(runtime_at, deployment(azure))
    clock[0] += 3599 - 120  # still two minutes left: kept
    await chat(runtime_at, deployment(azure))
    assert len(entra.requests) == 1
    clock[0] += 90  # within the last minute: renewed
    await chat(runtime_at, deployment(azure))
    assert len(entra.requests) == 2


async def test_a_wrong_secret_is_an_auth_error_that_never_quotes_it(runtime_at, entra, azure) -> None:
    with pytest.raises(UpstreamAuthError, match="AADSTS7000215") as refused:
        await chat(runtime_at, deployment(azure, azure_client_secret="wrong-secret-value"))
    assert "wrong-secret-value" not in str(refused.value)
    assert azure.requests == []
