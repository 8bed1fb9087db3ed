"""Key policies and workspace limits from the command line: `apikey create|update` options, `limits show|set`, and
spend per key with `usage --group-by api_key`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

from modelyard.services.usage import UsageEvent
from modelyard.types import Usage
from tests.support.cli import Cli, started_services


def test_apikey_create_requires_a_name(cli: Cli, workspace: str) -> None:
    result = cli("apikey", "create", "--workspace", workspace, "--json")

    assert result.exit_code == 2
    assert "--name" in result.stderr
    assert cli.json("apikey", "list", "--workspace", workspace) == []


def test_apikey_create_sets_a_whole_policy_and_list_shows_it(cli: Cli, workspace: str) -> None:
    created = cli.json(
        "apikey", "create", "--workspace", workspace, "--name", "batch",
        "--allow-model", "openai/*", "--allow-model", "deepseek/deepseek-flash",
        "--rpm", "60", "--tpm", "100000", "--max-concurrent", "4",
        "--budget", "25.50", "--budget-window", "monthly", "--budget-soft-limit", "20",
        "--expires-at", "2030-01-31T00:00:00Z", "--strict-params",
    )  # fmt: skip

    [listed] = cli.json("apikey", "list", "--workspace", workspace)
    policy = listed["policy"]
    assert listed["id"] == created["id"]
    assert policy["allowed_models"] == ["openai/*", "deepseek/deepseek-flash"]
    assert (policy["requests_per_minute"], policy["tokens_per_minute"], policy["max_concurrent_requests"]) == (
        60,
        100_000,
        4,
    )
    assert policy["budget"] == {"limit": "25.5", "currency": "USD", "window": "monthly", "soft_limit": "20"}
    assert policy["expires_at"].startswith("2030-01-31T00:00:00") and policy["strict_params"] is True
    text = cli("apikey", "list", "--workspace", workspace).stdout
    assert "60 rpm, 100000 tpm, 4 concurrent" in text and "25.50 USD monthly (soft 20)" in text


def test_apikey_update_changes_only_what_it_is_given(cli: Cli, workspace: str) -> None:
    key = cli.json("apikey", "create", "--workspace", workspace, "--name", "app", "--rpm", "5", "--budget", "10")["id"]

    updated = cli.json("apikey", "update", "--workspace", workspace, key, "--tpm", "900", "--budget-soft-limit", "8")
    assert (updated["policy"]["requests_per_minute"], updated["policy"]["tokens_per_minute"]) == (5, 900)
    assert updated["policy"]["budget"]["limit"] == "10" and updated["policy"]["budget"]["soft_limit"] == "8"

    cleared = cli.json("apikey", "update", "--workspace", workspace, key, "--rpm", "none", "--budget", "none")
    assert (cleared["policy"]["requests_per_minute"], cleared["policy"]["budget"]) == (None, None)
    assert cleared["policy"]["tokens_per_minute"] == 900 and cleared["name"] == "app"


def test_apikey_update_refuses_a_bad_policy_naming_the_field(cli: Cli, workspace: str) -> None:
    key = cli.json("apikey", "create", "--workspace", workspace, "--name", "app", "--budget", "10")["id"]

    result = cli("apikey", "update", "--workspace", workspace, key, "--budget-soft-limit", "12", "--json")
    assert result.exit_code == 1
    assert '"code":"invalid_request"' in result.stderr and "budget.soft_limit is below budget.limit" in result.stderr
    bad_rate = cli("apikey", "update", "--workspace", workspace, key, "--rpm", "lots")
    assert bad_rate.exit_code == 2 and "'none' to remove the limit" in bad_rate.stderr


def test_limits_set_and_show_the_workspace_limits(cli: Cli, workspace: str) -> None:
    assert cli.json("limits", "show", "--workspace", workspace)["budget"] is None

    shown = cli.json(
        "limits", "set", "--workspace", workspace, "--rpm", "600", "--budget", "500", "--budget-window", "daily"
    )
    assert shown["requests_per_minute"] == 600
    assert (shown["budget"]["limit"], shown["budget"]["spent"], shown["budget"]["window"]) == ("500", "0", "daily")
    assert shown["budget"]["period_start"] == datetime.now(UTC).date().isoformat()
    text = cli("limits", "show", "--workspace", workspace).stdout
    assert "600 rpm" in text and "Spent this period: 0 of 500 USD" in text
    assert cli.json("limits", "set", "--workspace", workspace, "--rpm", "none")["requests_per_minute"] is None


def test_usage_groups_spend_by_api_key(cli: Cli, workspace: str) -> None:
    async def record() -> None:
        async with started_services() as services:
            for number, key in enumerate(("key_a", "key_a", "key_b")):
                services.usage.record(
                    UsageEvent(
                        request_id=f"req_{number}", workspace_id=workspace, api_key_id=key, provider="deepseek",
                        model="deepseek-flash", model_type="llm", provider_type="custom", credential_ref=None,
                        usage=Usage(prompt_tokens=10, completion_tokens=1, total_price=Decimal("0.25")),
                        status="success", error_class=None, created_at=datetime(2026, 11, 2, 12, tzinfo=UTC),
                    )
                )  # fmt: skip

    asyncio.run(record())
    by_key = cli.json("usage", "--workspace", workspace, "--group-by", "day,api_key")

    assert [(u["day"], u["api_key_id"], u["calls"], u["total_price"]) for u in by_key] == [
        ("2026-11-02", "key_a", 2, "0.5"),
        ("2026-11-02", "key_b", 1, "0.25"),
    ]
    assert "key_b" in cli("usage", "--workspace", workspace, "--group-by", "api_key").stdout
