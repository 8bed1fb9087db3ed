"""/metrics behind MODELYARD_METRICS_TOKEN, and labels that name no workspace's custom model."""

from __future__ import annotations

import dataclasses

import pytest

from modelyard.settings import Settings
from tests.support import SECRET
from tests.support.console import API, Console, Team, error_of

TOKEN = "scrape-0123456789abcdef"


def test_the_token_is_read_from_the_environment() -> None:
    assert Settings.from_env({"MODELYARD_METRICS_TOKEN": TOKEN}).metrics_token == TOKEN
    assert Settings.from_env({"MODELYARD_METRICS_TOKEN": ""}).metrics_token is None
    assert Settings.from_env({}).metrics_token is None


@pytest.fixture
def with_token(console: Console, monkeypatch: pytest.MonkeyPatch) -> str:
    settings = dataclasses.replace(console.services.settings, metrics_token=TOKEN)
    monkeypatch.setattr(console.services, "settings", settings)
    return TOKEN


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", f"Bearer {TOKEN}x", f"Basic {TOKEN}", "Bearer "],
    ids=["absent", "wrong", "longer", "basic", "empty"],
)
async def test_with_a_token_set_metrics_without_it_are_401(console: Console, with_token: str, authorization) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    response = await console.client().get("/metrics", headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="metrics"'
    assert error_of(response)["code"] == "metrics_token"
    assert "modelyard_requests" not in response.text


async def test_with_a_token_set_metrics_with_it_are_served(console: Console, with_token: str) -> None:
    response = await console.client().get("/metrics", headers={"Authorization": f"Bearer {with_token}"})

    assert response.status_code == 200
    assert "modelyard_request_latency_seconds" in response.text


async def test_without_a_token_set_metrics_need_no_sign_in(console: Console) -> None:
    assert (await console.client().get("/metrics")).status_code == 200


async def test_a_custom_model_name_never_becomes_a_label(team: Team, console: Console, deepseek, fake_openai) -> None:
    ws = f"{API}/workspaces/{team.workspace_id}"
    custom = {"endpoint_url": f"{fake_openai.url}/v1", "api_key": SECRET}
    added = await team.owner.post(
        f"{ws}/providers/openai_api_compatible/custom-models",
        json={"model": "acme-secret-project", "model_type": "llm", "values": custom, "validate": False},
    )
    assert added.status_code == 201, added.text
    stored = await team.owner.post(f"{ws}/providers/deepseek/credentials", json={"values": deepseek, "validate": False})
    assert stored.status_code == 201, stored.text
    key = (await team.owner.post(f"{ws}/api-keys", json={"name": "metrics"})).json()["key"]
    gateway = console.client()
    for model in ("openai_api_compatible/acme-secret-project", "deepseek/deepseek-flash"):
        fake_openai.reply_chat("hi")
        answered = await gateway.post(
            "/v1/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        )
        assert answered.status_code == 200, answered.text

    text = (await console.client().get("/metrics")).text

    assert "acme-secret-project" not in text
    assert 'modelyard_tokens_total{kind="prompt",model="custom",provider="openai_api_compatible"}' in text
    assert 'modelyard_tokens_total{kind="prompt",model="deepseek-flash",provider="deepseek"}' in text
