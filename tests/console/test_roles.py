"""Every role on a read and a write route: owners and admins change, members read, outsiders see nothing."""

from __future__ import annotations

import pytest

from tests.support import SECRET
from tests.support.console import API, Console, Team, error_of

ROLES = ("owner", "admin", "member", "outsider")


@pytest.fixture
async def credential_id(team: Team, deepseek) -> str:
    response = await team.owner.post(
        f"{API}/workspaces/{team.workspace_id}/providers/deepseek/credentials",
        json={"values": deepseek, "validate": False},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("admin", 200), ("member", 200), ("outsider", 404)])
async def test_reading_credentials_by_role(team: Team, credential_id: str, role: str, status: int) -> None:
    response = await team.as_(role).get(f"{API}/workspaces/{team.workspace_id}/providers/deepseek/credentials")

    assert response.status_code == status
    if status == 200:
        [credential] = response.json()
        assert credential["values"]["api_key"] == "************"
        assert SECRET not in response.text


@pytest.mark.parametrize(("role", "status"), [("owner", 201), ("admin", 201), ("member", 403), ("outsider", 404)])
async def test_writing_credentials_by_role(team: Team, deepseek, role: str, status: int) -> None:
    response = await team.as_(role).post(
        f"{API}/workspaces/{team.workspace_id}/providers/deepseek/credentials",
        json={"name": f"by {role}", "values": deepseek, "validate": False},
    )

    assert response.status_code == status
    if status == 403:
        assert error_of(response)["type"] == "permission"
    if status == 404:  # an outsider cannot tell a workspace it is not in from one that does not exist
        assert error_of(response)["message"] == f"workspace {team.workspace_id!r} does not exist"


@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("admin", 200), ("member", 403), ("outsider", 404)])
async def test_changing_a_credential_by_role(team: Team, credential_id: str, role: str, status: int) -> None:
    response = await team.as_(role).patch(
        f"{API}/workspaces/{team.workspace_id}/credentials/{credential_id}", json={"name": "renamed", "validate": False}
    )

    assert response.status_code == status


@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("admin", 200), ("member", 403), ("outsider", 404)])
async def test_api_keys_are_for_owners_and_admins_only(team: Team, role: str, status: int) -> None:
    response = await team.as_(role).get(f"{API}/workspaces/{team.workspace_id}/api-keys")

    assert response.status_code == status


@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("admin", 200), ("member", 200), ("outsider", 404)])
async def test_reading_providers_and_models_by_role(team: Team, role: str, status: int) -> None:
    client = team.as_(role)
    for path in ("providers", "models", "default-models", "quota", "usage", "members"):
        response = await client.get(f"{API}/workspaces/{team.workspace_id}/{path}")
        assert response.status_code == status, path


@pytest.mark.parametrize(("role", "status"), [("owner", 204), ("admin", 403), ("member", 403), ("outsider", 404)])
async def test_only_an_owner_deletes_a_workspace(team: Team, role: str, status: int) -> None:
    response = await team.as_(role).delete(f"{API}/workspaces/{team.workspace_id}")

    assert response.status_code == status


@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("admin", 200), ("member", 403), ("outsider", 404)])
async def test_renaming_a_workspace_by_role(team: Team, role: str, status: int) -> None:
    response = await team.as_(role).patch(f"{API}/workspaces/{team.workspace_id}", json={"name": "Renamed"})

    assert response.status_code == status


@pytest.mark.parametrize("role", ["owner", "admin", "member"])
async def test_every_member_may_use_the_playground(team: Team, role: str) -> None:
    response = await team.as_(role).post(
        f"{API}/workspaces/{team.workspace_id}/playground/chat",
        json={"model": "nope/nope", "messages": [{"role": "user", "content": "Hi"}]},
    )

    assert response.status_code == 200  # the unknown model is an error event in the stream
    assert '"error"' in response.text


async def test_outsiders_cannot_use_the_playground(team: Team) -> None:
    response = await team.outsider.post(
        f"{API}/workspaces/{team.workspace_id}/playground/chat",
        json={"model": "default", "messages": [{"role": "user", "content": "Hi"}]},
    )

    assert response.status_code == 404


async def test_an_admin_cannot_grant_owner_but_an_owner_can(team: Team) -> None:
    ws = team.workspace_id
    member_id = team.ids["member"]

    by_admin = await team.admin.patch(f"{API}/workspaces/{ws}/members/{member_id}", json={"role": "owner"})
    demote_owner = await team.admin.patch(f"{API}/workspaces/{ws}/members/{team.ids['owner']}", json={"role": "member"})
    by_owner = await team.owner.patch(f"{API}/workspaces/{ws}/members/{member_id}", json={"role": "owner"})

    assert by_admin.status_code == demote_owner.status_code == 403
    assert by_owner.status_code == 200
    assert by_owner.json()["role"] == "owner"


async def test_the_last_owner_cannot_be_removed(team: Team) -> None:
    response = await team.owner.delete(f"{API}/workspaces/{team.workspace_id}/members/{team.ids['owner']}")

    assert response.status_code == 409


async def test_members_are_added_existing_or_created_and_removed(console: Console, team: Team) -> None:
    ws = team.workspace_id
    await console.account("existing@example.com")

    existing = await team.admin.post(f"{API}/workspaces/{ws}/members", json={"email": "existing@example.com",
                                                                           "role": "member"})  # fmt: skip
    created = await team.admin.post(
        f"{API}/workspaces/{ws}/members",
        json={"email": "new@example.com", "role": "admin", "password": "a long password", "name": "New"},
    )
    unknown = await team.admin.post(f"{API}/workspaces/{ws}/members", json={"email": "nobody@example.com",
                                                                          "role": "member"})  # fmt: skip
    twice = await team.admin.post(f"{API}/workspaces/{ws}/members", json={"email": "existing@example.com",
                                                                        "role": "member"})  # fmt: skip

    assert existing.status_code == created.status_code == 201
    assert created.json()["role"] == "admin"
    assert unknown.status_code == 404
    assert twice.status_code == 409
    removed = await team.admin.delete(f"{API}/workspaces/{ws}/members/{created.json()['account_id']}")
    assert removed.status_code == 204
    emails = {m["email"] for m in (await team.member.get(f"{API}/workspaces/{ws}/members")).json()}
    assert emails == {"owner@example.com", "admin@example.com", "member@example.com", "existing@example.com"}
    assert (await console.sign_in("new@example.com", "a long password")) is not None  # the account stays


async def test_another_workspaces_credential_reads_as_absent(team: Team, credential_id: str) -> None:
    other = (await team.outsider.post(f"{API}/workspaces", json={"name": "Mine"})).json()["id"]

    response = await team.outsider.get(f"{API}/workspaces/{other}/credentials/{credential_id}")

    assert response.status_code == 404
