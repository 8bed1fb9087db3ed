"""Errors and reasons carry a code and the values their English sentence names, for the console to word them anew;
the English sentence API clients read stays as it was."""

from __future__ import annotations

import httpx2
import pytest

from tests.fakes.openai import FakeOpenAI
from tests.support.console import API, Team, error_of


@pytest.fixture
async def owner(team: Team) -> httpx2.AsyncClient:
    return team.owner


def workspace_url(team: Team) -> str:
    return f"{API}/workspaces/{team.workspace_id}"


async def test_a_type_with_no_usable_model_says_so_by_code(team: Team, owner: httpx2.AsyncClient) -> None:
    defaults = (await owner.get(f"{workspace_url(team)}/default-models")).json()

    rerank = next(d for d in defaults if d["model_type"] == "rerank")
    assert rerank["reason"] == "this workspace has no usable rerank model to use as its default"
    assert rerank["reason_code"] == "no_usable_model"
    assert rerank["reason_params"] == {"case": "no_usable_model", "model_type": "rerank"}


async def test_an_unusable_model_names_provider_and_model_in_its_reason(team: Team, owner: httpx2.AsyncClient) -> None:
    models = (await owner.get(f"{workspace_url(team)}/models", params={"provider": "deepseek"})).json()

    flash = next(m for m in models if m["model"] == "deepseek-flash")
    assert flash["reason"].startswith("[deepseek] no credentials are configured for deepseek-flash")
    assert flash["reason_code"] == "credentials_not_configured"
    assert flash["reason_params"] == {"case": "api_key", "provider": "deepseek", "model": "deepseek-flash"}


async def test_a_disabled_model_is_a_reason_with_its_names(team: Team, owner: httpx2.AsyncClient, deepseek) -> None:
    ws = workspace_url(team)
    await owner.post(f"{ws}/providers/deepseek/credentials", json={"values": deepseek, "validate": False})
    switch = {"provider": "deepseek", "model": "deepseek-flash", "model_type": "llm", "enabled": False}

    view = (await owner.patch(f"{ws}/models", json=switch)).json()

    assert (view["reason_code"], view["reason_params"]) == (
        "model_disabled",
        {"provider": "deepseek", "model": "deepseek-flash"},
    )


async def test_a_refused_default_is_an_error_with_params_and_its_english_message(
    team: Team, owner: httpx2.AsyncClient
) -> None:
    response = await owner.put(
        f"{workspace_url(team)}/default-models/llm", json={"provider": "deepseek", "model": "deepseek-flash"}
    )

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "credentials_not_configured"
    assert error["message"] == (
        "[deepseek] no credentials are configured for deepseek-flash: add an API key for deepseek"
    )
    assert error["params"] == {"case": "api_key", "provider": "deepseek", "model": "deepseek-flash"}


async def test_credentials_the_provider_refuses_carry_its_words_as_detail(
    team: Team, owner: httpx2.AsyncClient, deepseek, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail(401, "Authentication Fails (no such user)", type="authentication_error")

    response = await owner.post(f"{workspace_url(team)}/providers/deepseek/credentials", json={"values": deepseek})

    error = error_of(response)
    assert (response.status_code, error["code"]) == (400, "credentials_rejected")
    detail = "credentials refused: Authentication Fails (no such user) (HTTP 401)"
    assert error["message"] == f"the test call failed: [deepseek] {detail}"
    assert error["params"] == {"case": "test_call", "provider": "deepseek", "detail": detail}


async def test_a_form_error_names_its_field_and_case(team: Team, owner: httpx2.AsyncClient) -> None:
    response = await owner.post(
        f"{workspace_url(team)}/providers/deepseek/credentials", json={"values": {"endpoint_url": "http://x"}}
    )

    assert error_of(response)["params"] == {"case": "required", "field": "api_key"}


async def test_a_failed_recheck_keeps_its_sentence_and_gets_a_code(
    team: Team, owner: httpx2.AsyncClient, deepseek, fake_openai: FakeOpenAI
) -> None:
    ws = workspace_url(team)
    created = (
        await owner.post(f"{ws}/providers/deepseek/credentials", json={"values": deepseek, "validate": False})
    ).json()
    assert (created["last_error_code"], created["last_error_params"]) == (None, {})
    fake_openai.fail(401, "Authentication Fails (no such user)", type="authentication_error")

    checked = (await owner.post(f"{ws}/credentials/{created['id']}/validate")).json()

    assert checked["status"] == "failing"
    assert "Authentication Fails" in checked["last_error"]
    assert checked["last_error_code"] == "credentials_rejected"
    assert checked["last_error_params"] == {"case": "last_check", "provider": "deepseek"}


async def test_a_request_the_schema_refuses_names_field_and_detail(team: Team, owner: httpx2.AsyncClient) -> None:
    response = await owner.post(f"{workspace_url(team)}/api-keys", json={"name": ""})

    error = error_of(response)
    assert (error["code"], error["field"]) == ("validation", "name")
    assert error["params"]["field"] == "name" and error["params"]["detail"] in error["message"]
