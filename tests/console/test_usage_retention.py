"""The console's usage API reads the daily sums: the same totals before and after the records are pruned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from modelyard.services.usage import UsageEvent
from modelyard.types import Usage
from tests.support import require_postgres
from tests.support.console import API, Console, Team

NOW = datetime.now(UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        require_postgres()
    return str(request.param)


def call(workspace_id: str, number: int, days_ago: int, api_key_id: str | None) -> UsageEvent:
    usage = Usage(prompt_tokens=100 + number, completion_tokens=10, cached_tokens=40, reasoning_tokens=5,
                  cache_write_tokens=20, total_price=Decimal("0.0012345678"))  # fmt: skip
    return UsageEvent(
        request_id=f"req_{number}", workspace_id=workspace_id, api_key_id=api_key_id, provider="deepseek",
        model="deepseek-chat" if number % 2 else "deepseek-reasoner", model_type="llm", provider_type="custom",
        credential_ref=None, usage=usage, status="error" if number % 5 == 0 else "success",
        error_class="UpstreamTimeoutError" if number % 5 == 0 else None, created_at=NOW - timedelta(days=days_ago),
    )  # fmt: skip


async def test_usage_totals_and_spend_per_day_survive_pruning(console: Console, team: Team) -> None:
    ws = f"{API}/workspaces/{team.workspace_id}"
    services = console.services
    for number in range(30):
        services.usage.record(call(team.workspace_id, number, days_ago=number * 7, api_key_id=f"key_{number % 3}"))
    assert await services.usage.flush() is True
    since = (NOW - timedelta(days=365)).date().isoformat()
    views = [  # what the usage page asks for: totals by model, calls per day, spend per day by key and by model
        {"since": since, "group_by": "provider,model"},
        {"since": since, "group_by": "day"},
        {"since": since, "group_by": "day,api_key"},
        {"since": since, "group_by": "day,provider,model"},
        {"group_by": "day,api_key,provider,model,model_type"},
    ]
    before = [(await team.member.get(f"{ws}/usage", params=view)).json() for view in views]
    records_before = (await team.member.get(f"{ws}/usage/records", params={"limit": 1000})).json()

    report = await services.retention.prune()

    after = [(await team.member.get(f"{ws}/usage", params=view)).json() for view in views]
    records_after = (await team.member.get(f"{ws}/usage/records", params={"limit": 1000})).json()
    assert after == before
    assert sum(row["calls"] for row in before[1]) == 30
    assert {row["prompt_tokens"] for row in before[0]} and before[0][0]["cached_tokens"] > 0
    assert len(records_before) == 30
    assert len(records_after) == 13  # 0, 7, ... 84 days ago: within the 90 days kept
    assert {t.table: t.rows for t in report.tables}["usage_records"] == 17
