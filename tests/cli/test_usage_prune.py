"""`modelyard usage prune`: old usage records go, `modelyard usage` shows the same totals before and after."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from modelyard.services.usage import UsageEvent
from modelyard.store.tables import UsageRecord
from modelyard.types import Usage
from tests.support.cli import Cli, started_services

NOW = datetime.now(UTC)


def record_calls(workspace: str, *days_ago: int) -> None:
    async def record() -> None:
        async with started_services() as services:  # closing writes what was recorded
            for number, age in enumerate(days_ago):
                services.usage.record(
                    UsageEvent(
                        request_id=f"req_{age}_{number}", workspace_id=workspace, api_key_id=None, provider="deepseek",
                        model="deepseek-chat", model_type="llm", provider_type="custom", credential_ref=None,
                        usage=Usage(prompt_tokens=10, completion_tokens=2, total_price=Decimal("0.0000123")),
                        status="success", error_class=None, created_at=NOW - timedelta(days=age),
                    )
                )  # fmt: skip

    asyncio.run(record())


def stored_request_ids() -> list[str]:
    async def read() -> list[str]:
        async with started_services() as services, services.db() as session:
            return sorted((await session.scalars(select(UsageRecord.request_id))).all())

    return asyncio.run(read())


def test_prune_deletes_old_records_and_usage_shows_the_same_totals(cli: Cli, workspace: str) -> None:
    record_calls(workspace, 200, 120, 91, 30, 0)
    by_model = cli.json("usage", "--workspace", workspace, "--group-by", "provider,model")
    by_day = cli.json("usage", "--workspace", workspace, "--group-by", "day,api_key")

    dry = cli.json("usage", "prune", "--dry-run")
    kept = stored_request_ids()
    pruned = cli.json("usage", "prune")

    counts = {table["table"]: table["rows"] for table in pruned["tables"]}
    assert dry["dry_run"] is True and {t["table"]: t["rows"] for t in dry["tables"]} == counts
    assert len(kept) == 5
    assert counts == {"usage_records": 3, "usage_daily": 0, "quota_ledger": 0, "budget_ledger": 0}
    assert stored_request_ids() == ["req_0_4", "req_30_3"]
    assert cli.json("usage", "--workspace", workspace, "--group-by", "provider,model") == by_model
    assert cli.json("usage", "--workspace", workspace, "--group-by", "day,api_key") == by_day
    assert by_model[0]["calls"] == 5 and by_model[0]["total_price"] == "0.0000615"


def test_prune_before_a_day_and_its_text_report(cli: Cli, workspace: str) -> None:
    record_calls(workspace, 10, 0)

    result = cli("usage", "prune", "--before", (NOW - timedelta(days=5)).date().isoformat())

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("TABLE          OLDER THAN                 DELETED  BATCHES  LONGEST BATCH MS\n")
    assert "\nusage_daily    kept forever               0        0        0.0\n" in result.stdout
    assert stored_request_ids() == ["req_0_1"]


def test_prune_refuses_a_day_after_today(cli: Cli, workspace: str) -> None:
    tomorrow = (NOW + timedelta(days=1)).date().isoformat()

    result = cli("usage", "prune", "--before", tomorrow, "--json")

    assert result.exit_code == 2
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "bad_parameter" and "--before" in error["message"]


def test_usage_without_a_workspace_is_a_usage_error(cli: Cli, workspace: str) -> None:
    result = cli("usage", "--json")

    assert result.exit_code == 2
    assert json.loads(result.stderr)["error"]["code"] == "missing_parameter"
