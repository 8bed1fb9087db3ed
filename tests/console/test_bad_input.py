"""Bad input of every kind gets a 4xx that says what is wrong and names the field; never a 422, never a 500."""

from __future__ import annotations

import httpx2
import pytest

from tests.support.console import API, Console, Team, error_of


@pytest.fixture
async def owner(team: Team) -> httpx2.AsyncClient:
    return team.owner


def credentials_url(team: Team, provider: str = "deepseek") -> str:
    return f"{API}/workspaces/{team.workspace_id}/providers/{provider}/credentials"


async def test_an_unknown_provider_is_404_naming_it(team: Team, owner: httpx2.AsyncClient) -> None:
    for response in (
        await owner.post(credentials_url(team, "nosuch"), json={"values": {}, "validate": False}),
        await owner.get(credentials_url(team, "nosuch")),
        await owner.get(f"{API}/workspaces/{team.workspace_id}/models", params={"provider": "nosuch"}),
        await owner.get(f"{API}/providers/nosuch/icon"),
    ):
        assert response.status_code == 404
        assert "nosuch" in error_of(response)["message"]


async def test_a_missing_required_credential_field_is_400_naming_it(team: Team, owner: httpx2.AsyncClient) -> None:
    response = await owner.post(credentials_url(team), json={"values": {"endpoint_url": "http://x"}})

    assert response.status_code == 400
    error = error_of(response)
    assert error["field"] == "api_key"
    assert error["message"] == "api_key is required"


async def test_an_unknown_credential_field_is_400_naming_it(team: Team, owner: httpx2.AsyncClient) -> None:
    response = await owner.post(credentials_url(team), json={"values": {"api_key": "k", "colour": "blue"}})

    assert response.status_code == 400
    assert error_of(response)["field"] == "colour"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"values": "sk-123"}, "values"),
        ({"values": {"api_key": ["a", "list"]}}, "values.api_key"),
        ({"values": {"api_key": "k"}, "validate": "yes"}, "validate"),
        ({"values": {"api_key": "k"}, "name": 42}, "name"),
        ({}, "values"),
        ({"values": {"api_key": "k"}, "surprise": True}, "surprise"),
    ],
)
async def test_a_wrong_type_or_shape_is_400_naming_the_field(
    team: Team, owner: httpx2.AsyncClient, body: dict, field: str
) -> None:
    response = await owner.post(credentials_url(team), json=body)

    assert response.status_code == 400
    error = error_of(response)
    assert error["field"] == field
    assert error["code"] == "validation"
    assert error["message"].startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "load-balancing",
            {"provider": "deepseek", "model": "m", "model_type": "llm", "name": "a", "weight": "x"},
            "weight",
        ),
        (
            "load-balancing",
            {"provider": "deepseek", "model": "m", "model_type": "llm", "name": "a", "weight": 0},
            "weight",
        ),
        ("models", {"provider": "deepseek", "model": "m", "model_type": "chat"}, "model_type"),
        ("playground/chat", {"model": "default", "messages": []}, "messages"),
        ("playground/chat", {"model": "default", "messages": [{"role": "robot", "content": "hi"}]}, "messages.0.role"),
        (
            "playground/chat",
            {"model": "default", "messages": [{"role": "user", "content": "hi"}], "temperature": 9},
            "temperature",
        ),
        ("api-keys", {"name": "x" * 121}, "name"),
        ("members", {"email": "a@b.co", "role": "king"}, "role"),
    ],
)
async def test_every_body_kind_names_its_bad_field(
    team: Team, owner: httpx2.AsyncClient, path: str, body: dict, field: str
) -> None:
    method = owner.patch if path == "models" else owner.post
    response = await method(f"{API}/workspaces/{team.workspace_id}/{path}", json=body)

    assert response.status_code == 400, response.text
    assert error_of(response)["field"] == field


async def test_service_rules_are_400_with_the_field(team: Team, owner: httpx2.AsyncClient) -> None:
    ws = team.workspace_id
    renamed = await owner.patch(f"{API}/workspaces/{ws}", json={"name": "   "})
    grouped = await owner.get(f"{API}/workspaces/{ws}/usage", params={"group_by": "colour"})
    switch = await owner.patch(
        f"{API}/workspaces/{ws}/models", json={"provider": "deepseek", "model": "deepseek-flash", "model_type": "llm"}
    )
    member = await owner.post(
        f"{API}/workspaces/{ws}/members", json={"email": "not-an-email", "role": "member", "password": "long enough"}
    )

    assert [error_of(r)["field"] for r in (renamed, grouped, switch, member)] == [
        "name",
        "group_by",
        "enabled",
        "email",
    ]
    assert {r.status_code for r in (renamed, grouped, switch, member)} == {400}


async def test_bad_query_and_path_values_are_400(team: Team, owner: httpx2.AsyncClient) -> None:
    ws = team.workspace_id
    since = await owner.get(f"{API}/workspaces/{ws}/usage", params={"since": "yesterday"})
    limit = await owner.get(f"{API}/workspaces/{ws}/usage/records", params={"limit": 0})
    kind = await owner.put(f"{API}/workspaces/{ws}/default-models/poetry", json={"provider": "a", "model": "b"})
    missing = await owner.get(f"{API}/workspaces/{ws}/models/parameter-rules", params={"provider": "deepseek"})

    assert [r.status_code for r in (since, limit, kind, missing)] == [400] * 4
    assert [error_of(r)["field"] for r in (since, limit, kind, missing)] == ["since", "limit", "model_type", "model"]


async def test_malformed_json_is_400(team: Team, owner: httpx2.AsyncClient) -> None:
    response = await owner.post(
        credentials_url(team), content=b'{"values": ', headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert error_of(response) == {
        "message": "the body is not valid JSON",
        "type": "invalid_request",
        "code": "validation",
        "field": "body",
        "params": {"case": "json_invalid"},
    }


async def test_an_oversized_body_is_413(team: Team, owner: httpx2.AsyncClient) -> None:
    huge = {"values": {"api_key": "k" * (1024 * 1024)}}

    response = await owner.post(credentials_url(team), json=huge)

    assert response.status_code == 413
    assert error_of(response)["type"] == "payload_too_large"


async def test_an_oversized_body_without_content_length_is_413(console: Console, team: Team) -> None:
    async def chunks():
        for _ in range(20):
            yield b"x" * 100_000

    response = await team.owner.post(credentials_url(team), content=chunks())

    assert response.status_code == 413


async def test_unknown_routes_and_methods_answer_in_the_error_shape(owner: httpx2.AsyncClient) -> None:
    missing = await owner.get(f"{API}/nothing-here")
    method = await owner.delete(f"{API}/providers")

    assert missing.status_code == 404
    assert error_of(missing)["type"] == "not_found"
    assert method.status_code == 405
    assert error_of(method)["type"] == "method_not_allowed"


async def test_a_server_error_is_500_with_a_generic_message(
    console: Console, team: Team, owner: httpx2.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    async def broken(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(console.services.accounts, "members", broken)

    response = await owner.get(f"{API}/workspaces/{team.workspace_id}/members")

    assert response.status_code == 500
    assert error_of(response)["message"] == "internal error; the server log has the details"
    assert "secret internals" not in response.text and "Traceback" not in response.text
    assert "secret internals" in caplog.text
