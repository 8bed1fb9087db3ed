"""Model aliases in the console API: members read them with each target's live state, owners and admins edit them,
bad input is a 400 naming the field, and a change reaches the gateway's /v1/models at once."""

from __future__ import annotations

import pytest

from modelyard.services.resolve import resolve_alias
from tests.support.console import API, Console, Team, error_of

SMART = {
    "name": "smart",
    "targets": [
        {"provider": "deepseek", "model": "deepseek-flash", "weight": 3},
        {"provider": "openai", "model": "gpt-5.4", "weight": 0},
    ],
}


@pytest.fixture
def ws(team: Team) -> str:
    return f"{API}/workspaces/{team.workspace_id}"


@pytest.fixture
async def with_deepseek(team: Team, ws: str, deepseek: dict[str, str]) -> None:
    created = await team.owner.post(
        f"{ws}/providers/deepseek/credentials", json={"values": deepseek, "validate": False}
    )
    assert created.status_code == 201, created.text


async def test_owners_and_admins_edit_aliases_that_members_read(
    console: Console, team: Team, ws: str, with_deepseek: None
) -> None:
    created = await team.admin.post(f"{ws}/aliases", json=SMART)
    assert created.status_code == 201, created.text
    alias = created.json()
    assert (alias["name"], alias["model_type"], alias["max_attempts"], alias["max_time_s"]) == ("smart", "llm", 3, 30)
    deepseek, openai = alias["targets"]
    assert (deepseek["weight"], deepseek["is_available"], deepseek["cooldown_remaining_s"]) == (3, True, 0.0)
    assert openai["is_available"] is False and "openai" in openai["reason"]

    assert [a["name"] for a in (await team.member.get(f"{ws}/aliases")).json()] == ["smart"]
    assert (await team.member.get(f"{ws}/aliases/smart")).json()["targets"][0]["model"] == "deepseek-flash"
    assert (await team.member.post(f"{ws}/aliases", json={**SMART, "name": "other"})).status_code == 403
    assert (await team.member.delete(f"{ws}/aliases/smart")).status_code == 403
    assert (await team.outsider.get(f"{ws}/aliases")).status_code == 404

    changed = await team.owner.patch(
        f"{ws}/aliases/smart", json={"targets": SMART["targets"][:1], "max_attempts": 5, "max_time_s": 12}
    )
    assert changed.status_code == 200, changed.text
    assert (len(changed.json()["targets"]), changed.json()["max_attempts"], changed.json()["max_time_s"]) == (1, 5, 12)
    snapshot = await console.services.snapshots.get(team.workspace_id)
    resolved = resolve_alias(snapshot, "smart", "llm")
    assert resolved is not None and (resolved.max_attempts, resolved.max_time_s) == (5, 12.0)

    assert (await team.owner.delete(f"{ws}/aliases/smart")).status_code == 204
    assert (await team.owner.get(f"{ws}/aliases/smart")).status_code == 404
    assert (await team.owner.get(f"{ws}/aliases")).json() == []


async def test_a_cooling_target_shows_its_rest(console: Console, team: Team, ws: str, with_deepseek: None) -> None:
    await team.owner.post(f"{ws}/aliases", json=SMART)
    await console.services.cooldowns.cool(
        team.workspace_id, "deepseek/deepseek-flash", 60, "UpstreamRateLimitError: 429"
    )

    target = (await team.member.get(f"{ws}/aliases/smart")).json()["targets"][0]

    assert 59 < target["cooldown_remaining_s"] <= 60 and target["cooldown_reason"] == "UpstreamRateLimitError: 429"


async def test_a_taken_name_is_409(team: Team, ws: str, with_deepseek: None) -> None:
    assert (await team.owner.post(f"{ws}/aliases", json=SMART)).status_code == 201
    taken = await team.owner.post(f"{ws}/aliases", json=SMART)
    assert (taken.status_code, error_of(taken)["code"]) == (409, "conflict")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "a/b"}, "name"),
        ({"name": "deepseek-v4-pro"}, "name"),  # a model's name
        ({"name": ""}, "name"),
        ({"targets": []}, "targets"),
        ({"targets": [{"provider": "deepseek", "model": "deepseek-flash", "weight": -1}]}, "targets.0.weight"),
        ({"targets": [{"provider": "deepseek", "model": "nope"}]}, "targets[0]"),
        ({"targets": [{"provider": "deepseek", "model": "deepseek-flash", "weight": 0}]}, "targets"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_time_s": "soon"}, "max_time_s"),
        ({"model_type": "poetry"}, "model_type"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_a_bad_alias_is_400_naming_the_field(team: Team, ws: str, with_deepseek: None, change, field) -> None:
    refused = await team.owner.post(f"{ws}/aliases", json={**SMART, **change})
    assert refused.status_code == 400, refused.text
    assert error_of(refused)["field"] == field


async def test_a_changed_alias_is_listed_by_the_gateway(console: Console, team: Team, ws: str, with_deepseek) -> None:
    _, key = await console.services.api_keys.create(workspace_id=team.workspace_id, name="app")
    gateway = console.client()
    gateway.headers["Authorization"] = f"Bearer {key}"
    assert "smart" not in [m["id"] for m in (await gateway.get("/v1/models")).json()["data"]]

    await team.owner.post(f"{ws}/aliases", json=SMART)

    [listed] = [m for m in (await gateway.get("/v1/models")).json()["data"] if m["id"] == "smart"]
    assert listed["alias_of"] == ["deepseek/deepseek-flash", "openai/gpt-5.4"]
