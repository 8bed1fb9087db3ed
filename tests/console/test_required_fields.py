"""A required field left empty, or only spaces, is refused by the server with a 400 naming it: a form that forgets
to check (or a client that is not the web console) cannot create a nameless key or look up a blank email."""

from __future__ import annotations

import pytest

from tests.support.console import API, Team, error_of


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("api-keys", {}, "name"),
        ("api-keys", {"name": ""}, "name"),
        ("api-keys", {"name": "   "}, "name"),
        ("members", {"email": "", "role": "member"}, "email"),
        ("members", {"email": "     ", "role": "member"}, "email"),  # an existing account is looked up by it
        ("members", {"email": "     ", "role": "member", "password": "long enough"}, "email"),
        ("providers/deepseek/credentials", {"name": "", "values": {"api_key": "k"}, "validate": False}, "name"),
        ("providers/deepseek/credentials", {"name": "  ", "values": {"api_key": "k"}, "validate": False}, "name"),
    ],
    ids=[
        "key-no-name",
        "key-empty-name",
        "key-blank-name",
        "member-empty-email",
        "member-blank-email",
        "new-member-blank-email",
        "credential-empty-name",
        "credential-blank-name",
    ],
)
async def test_an_empty_required_field_in_a_workspace_is_400_naming_it(
    team: Team, path: str, body: dict, field: str
) -> None:
    ws = f"{API}/workspaces/{team.workspace_id}"

    response = await team.owner.post(f"{ws}/{path}", json=body)

    assert response.status_code == 400, response.text
    assert error_of(response)["field"] == field
    assert (await team.owner.get(f"{ws}/api-keys")).json() == []
    assert len((await team.owner.get(f"{ws}/members")).json()) == 3  # owner, admin, member: nobody added
    assert (await team.owner.get(f"{ws}/providers/deepseek/credentials")).json() == []


@pytest.mark.parametrize("name", ["", "   "])
async def test_a_workspace_without_a_name_is_400_naming_it(team: Team, name: str) -> None:
    before = (await team.owner.get(f"{API}/workspaces")).json()

    response = await team.owner.post(f"{API}/workspaces", json={"name": name})

    assert response.status_code == 400
    assert error_of(response)["field"] == "name"
    assert (await team.owner.get(f"{API}/workspaces")).json() == before


async def test_the_api_key_name_is_required_in_the_openapi_document(team: Team) -> None:
    schemas = (await team.owner.get("/openapi.json")).json()["components"]["schemas"]

    assert schemas["ApiKeyBody"]["required"] == ["name"]
    assert schemas["ApiKeyBody"]["properties"]["name"]["minLength"] == 1


async def test_a_named_api_key_is_created_with_its_name_trimmed(team: Team) -> None:
    ws = f"{API}/workspaces/{team.workspace_id}"

    created = await team.owner.post(f"{ws}/api-keys", json={"name": "  backend  "})

    assert created.status_code == 201
    assert created.json()["name"] == "backend"
