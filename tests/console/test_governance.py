"""Key policies and workspace limits in the console API: set at creation, edited after, shown with the budget's
spend, refused with the field named; spend per key, model and day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx2
import pytest

from tests.support.console import API, Console, Team, error_of

MODEL = "deepseek/deepseek-flash"


@pytest.fixture
def ws(team: Team) -> str:
    return f"{API}/workspaces/{team.workspace_id}"


@pytest.fixture
async def deepseek_ready(team: Team, ws: str, deepseek) -> None:
    created = await team.owner.post(
        f"{ws}/providers/deepseek/credentials", json={"values": deepseek, "validate": False}
    )
    assert created.status_code == 201, created.text


async def chat(client: httpx2.AsyncClient, key: str, model: str = MODEL) -> httpx2.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 100}
    return await client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})


async def test_a_key_is_created_with_its_policy_and_listed_with_its_budget(team: Team, ws: str) -> None:
    expires = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    created = await team.owner.post(
        f"{ws}/api-keys",
        json={
            "name": "backend",
            "allowed_models": ["deepseek/*", "openai/gpt-4.1"],
            "expires_at": expires.isoformat(),
            "requests_per_minute": 60,
            "tokens_per_minute": 100_000,
            "max_concurrent_requests": 4,
            "budget": {"limit": "25.50", "currency": "USD", "window": "monthly", "soft_limit": 20},
            "strict_params": True,
        },
    )
    assert created.status_code == 201, created.text
    listed = (await team.owner.get(f"{ws}/api-keys")).json()
    [key] = listed
    assert {name: key[name] for name in ("allowed_models", "requests_per_minute", "tokens_per_minute")} == {
        "allowed_models": ["deepseek/*", "openai/gpt-4.1"],
        "requests_per_minute": 60,
        "tokens_per_minute": 100_000,
    }
    assert (key["max_concurrent_requests"], key["strict_params"], key["is_expired"]) == (4, True, False)
    assert datetime.fromisoformat(key["expires_at"]) == expires
    budget = key["budget"]
    assert (budget["limit"], budget["soft_limit"], budget["window"], budget["currency"]) == (
        "25.50",
        "20",
        "monthly",
        "USD",
    )
    assert (budget["spent"], budget["remaining"], budget["is_exhausted"]) == ("0", "25.5", False)
    assert budget["period_start"] == date.today().replace(day=1).isoformat()
    assert created.json()["budget"] == budget and created.json()["key"].startswith("my-")


async def test_a_policy_is_edited_field_by_field_and_the_gateway_follows_at_once(
    console: Console, team: Team, ws: str, deepseek_ready: None
) -> None:
    created = (await team.owner.post(f"{ws}/api-keys", json={"name": "app", "requests_per_minute": 1})).json()
    key, path = created["key"], f"{ws}/api-keys/{created['id']}"
    gateway = console.client()
    assert (await chat(gateway, key)).status_code == 200
    assert (await chat(gateway, key)).status_code == 429

    edited = await team.owner.patch(path, json={"allowed_models": [MODEL], "requests_per_minute": None})
    assert edited.status_code == 200, edited.text
    assert (edited.json()["allowed_models"], edited.json()["requests_per_minute"]) == ([MODEL], None)
    assert (await chat(gateway, key)).status_code == 200  # the limit is gone
    refused = await chat(gateway, key, model="deepseek/deepseek-v4-pro")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "model_not_allowed")

    renamed = (await team.owner.patch(path, json={"name": "renamed"})).json()
    assert (renamed["name"], renamed["allowed_models"]) == ("renamed", [MODEL])  # the policy stays
    expired = await team.owner.patch(path, json={"expires_at": "2020-01-01T00:00:00Z"})
    assert expired.json()["is_expired"] is True
    gone = await chat(gateway, key)
    assert (gone.status_code, gone.json()["error"]["code"]) == (401, "api_key_expired")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"budget": {"limit": "10", "soft_limit": "10"}}, "budget.soft_limit"),
        ({"budget": {"limit": "0"}}, "budget.limit"),
        ({"budget": {"limit": "1.0000001"}}, "budget.limit"),
        ({"budget": {"limit": "ten"}}, "budget.limit"),
        ({"budget": {"limit": "1", "window": "hourly"}}, "budget.window"),
        ({"budget": {"currency": "USD"}}, "budget.limit"),
        ({"allowed_models": ["open*ai"]}, "allowed_models"),
        ({"allowed_models": []}, "allowed_models"),
        ({"expires_at": "next tuesday"}, "expires_at"),
        ({"expires_at": "2027-01-01T00:00:00"}, "expires_at"),
        ({"requests_per_minute": 0}, "requests_per_minute"),
        ({"max_concurrent_requests": 1.5}, "max_concurrent_requests"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_a_bad_policy_is_400_naming_the_field(team: Team, ws: str, body: dict, field: str) -> None:
    created = await team.owner.post(f"{ws}/api-keys", json={"name": "k", **body})
    assert created.status_code == 400, created.text
    assert error_of(created)["field"] == field
    assert (await team.owner.get(f"{ws}/api-keys")).json() == []


async def test_only_owners_and_admins_change_keys_and_limits_members_read_limits(team: Team, ws: str) -> None:
    key = (await team.admin.post(f"{ws}/api-keys", json={"name": "k"})).json()
    assert (await team.member.patch(f"{ws}/api-keys/{key['id']}", json={"name": "x"})).status_code == 403
    assert (await team.member.patch(f"{ws}/limits", json={"requests_per_minute": 5})).status_code == 403
    assert (await team.admin.patch(f"{ws}/limits", json={"requests_per_minute": 5})).status_code == 200
    assert (await team.member.get(f"{ws}/limits")).json()["requests_per_minute"] == 5
    assert (await team.outsider.get(f"{ws}/limits")).status_code == 404


async def test_workspace_limits_apply_to_every_key_and_report_the_budget_spend(
    console: Console, team: Team, ws: str, deepseek_ready: None
) -> None:
    limits = await team.owner.patch(
        f"{ws}/limits", json={"max_concurrent_requests": 8, "budget": {"limit": "5", "window": "daily"}}
    )
    assert limits.status_code == 200, limits.text
    assert limits.json()["budget"]["spent"] == "0" and limits.json()["max_concurrent_requests"] == 8
    key = (await team.owner.post(f"{ws}/api-keys", json={"name": "k"})).json()["key"]
    answered = await chat(console.client(), key)
    assert answered.status_code == 200
    assert answered.headers["x-modelyard-budget-remaining"].endswith(" USD")
    await console.services.invoker.drain()

    budget = (await team.owner.get(f"{ws}/limits")).json()["budget"]
    assert 0 < float(budget["spent"]) < 0.001 and budget["period_start"] == datetime.now(UTC).date().isoformat()
    cleared = (await team.owner.patch(f"{ws}/limits", json={"budget": None})).json()
    assert (cleared["budget"], cleared["max_concurrent_requests"]) == (None, 8)


async def test_spend_is_grouped_by_key_model_and_day(
    console: Console, team: Team, ws: str, deepseek_ready: None
) -> None:
    first = (await team.owner.post(f"{ws}/api-keys", json={"name": "one"})).json()
    second = (await team.owner.post(f"{ws}/api-keys", json={"name": "two"})).json()
    gateway = console.client()
    for key in (first["key"], first["key"], second["key"]):
        assert (await chat(gateway, key)).status_code == 200
    await console.services.invoker.drain()
    await console.services.usage.flush()

    rows = (await team.owner.get(f"{ws}/usage", params={"group_by": "day,api_key,model"})).json()
    calls = {(row["api_key_id"], row["model"]): row["calls"] for row in rows}
    assert calls == {(first["id"], "deepseek-flash"): 2, (second["id"], "deepseek-flash"): 1}
    assert {row["day"] for row in rows} == {datetime.now(UTC).date().isoformat()}
    assert all(float(row["total_price"]) > 0 for row in rows)
