"""The response cache in the console API: the workspace's TTL read and set (owners and admins), a key's own
cache_ttl_s, and cache hits counted in the usage totals."""

from __future__ import annotations

import pytest

from tests.support.console import API, Console, Team, error_of


@pytest.fixture
def ws(team: Team) -> str:
    return f"{API}/workspaces/{team.workspace_id}"


async def test_the_workspace_ttl_is_read_by_members_and_set_by_owners_and_admins(team: Team, ws: str) -> None:
    assert (await team.member.get(f"{ws}/response-cache")).json() == {"ttl_s": 0}
    assert (await team.owner.put(f"{ws}/response-cache", json={"ttl_s": 600})).json() == {"ttl_s": 600}
    assert (await team.member.get(f"{ws}/response-cache")).json() == {"ttl_s": 600}
    assert (await team.member.put(f"{ws}/response-cache", json={"ttl_s": 0})).status_code == 403
    assert (await team.admin.put(f"{ws}/response-cache", json={"ttl_s": 0})).json() == {"ttl_s": 0}
    assert (await team.outsider.get(f"{ws}/response-cache")).status_code == 404


@pytest.mark.parametrize("ttl", [-1, 2_592_001, "soon", None, 1.5])
async def test_a_bad_ttl_is_400_naming_it(team: Team, ws: str, ttl: object) -> None:
    refused = await team.owner.put(f"{ws}/response-cache", json={"ttl_s": ttl})
    assert refused.status_code == 400, refused.text
    assert error_of(refused)["field"] == "ttl_s"


async def test_a_keys_cache_ttl_is_set_listed_and_answered_from(
    console: Console, team: Team, ws: str, deepseek: dict[str, str]
) -> None:
    created = await team.owner.post(
        f"{ws}/providers/deepseek/credentials", json={"values": deepseek, "validate": False}
    )
    assert created.status_code == 201, created.text
    key = (await team.owner.post(f"{ws}/api-keys", json={"name": "cached", "cache_ttl_s": 300})).json()
    assert key["cache_ttl_s"] == 300
    refused = await team.owner.post(f"{ws}/api-keys", json={"name": "bad", "cache_ttl_s": -5})
    assert refused.status_code == 400 and error_of(refused)["field"] == "cache_ttl_s"

    gateway = console.client()
    body = {"model": "deepseek/deepseek-flash", "messages": [{"role": "user", "content": "Hi"}]}
    answers = [
        await gateway.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key['key']}"})
        for _ in range(3)
    ]
    assert [answer.headers["x-modelyard-cache"] for answer in answers] == ["miss", "hit", "hit"]
    await console.services.invoker.drain()
    await console.services.usage.flush()
    [total] = (await team.owner.get(f"{ws}/usage", params={"group_by": "model"})).json()
    assert (total["calls"], total["cache_hits"]) == (3, 2)
