"""Retention on SQLite and PostgreSQL: old usage records and closed ledger rows pruned in short batches, the daily
sums and every counter's balance kept, open reservations and running budget periods untouched."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, func, insert, select

from modelyard.services.context import Services
from modelyard.services.hosted import HostedConfig, HostedProvider
from modelyard.services.ledger_pruning import budget_period_is_open, carried_id
from modelyard.services.quota.budgets import BUDGETS
from modelyard.services.quota.ledger import LedgerRow, LedgerWriter
from modelyard.services.retention import Retention
from modelyard.services.usage import GROUP_KEYS, UsageEvent
from modelyard.store.tables import BudgetCounter, BudgetLedgerEntry, HostedQuota, QuotaLedgerEntry, UsageRecord
from modelyard.types import Usage
from tests.support import SECRET, eventually

NOW = datetime.now(UTC)
OPENAI = HostedProvider("openai", {"openai_api_key": SECRET}, "trial", "times", 1000, models=frozenset({"gpt-4.1"}))


@pytest.fixture
def hosted() -> HostedConfig:
    return HostedConfig(providers={"openai": OPENAI})


def retention(services: Services, **options: object) -> Retention:
    settings = {"usage_days": 90, "ledger_days": 400, "batch_rows": 3, "pause_s": 0.0} | options
    return Retention(services.engine, **settings)  # type: ignore[arg-type]


def call(workspace_id: str, request_id: str, days_ago: float, *, price: str = "0.25") -> UsageEvent:
    usage = Usage(prompt_tokens=100, completion_tokens=10, total_price=Decimal(price))
    return UsageEvent(
        request_id=request_id,
        workspace_id=workspace_id,
        api_key_id="key_1" if int(days_ago) % 2 else None,
        provider="openai",
        model="gpt-4.1",
        model_type="llm",
        provider_type="custom",
        credential_ref=None,
        usage=usage,
        status="success",
        error_class=None,
        created_at=NOW - timedelta(days=days_ago),
    )


async def record(services: Services, events: list[UsageEvent]) -> None:
    for item in events:
        services.usage.record(item)
    assert await services.usage.flush() is True


async def stored_request_ids(services: Services) -> set[str]:
    async with services.db() as session:
        return set((await session.scalars(select(UsageRecord.request_id))).all())


def deletes_of(services: Services, table: str) -> list[int]:
    """The rows each DELETE from `table` removed, one number per statement."""
    counts: list[int] = []

    def after(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.startswith(f"DELETE FROM {table}"):
            counts.append(cursor.rowcount)

    event.listen(services.engine.sync_engine, "after_cursor_execute", after)
    return counts


# --- usage records ----------------------------------------------------------------------------------------------


async def test_prune_deletes_records_past_retention_in_batches_and_keeps_every_total(
    services: Services, workspace: str
) -> None:
    old = [call(workspace, f"old_{n}", 91 + n) for n in range(8)]
    young = [call(workspace, f"young_{n}", 89 - n * 10) for n in range(5)]
    await record(services, old + young)
    totals = await services.usage.aggregate(workspace_id=workspace, group_by=GROUP_KEYS)
    by_day = await services.usage.aggregate(workspace_id=workspace, group_by=("day",))
    deletes = deletes_of(services, "usage_records")

    report = await retention(services).prune()

    assert await stored_request_ids(services) == {e.request_id for e in young}
    assert await services.usage.aggregate(workspace_id=workspace, group_by=GROUP_KEYS) == totals
    assert await services.usage.aggregate(workspace_id=workspace, group_by=("day",)) == by_day
    assert [r.request_id for r in await services.usage.records(workspace_id=workspace)] == [
        e.request_id for e in reversed(young)
    ]
    (pruned,) = [t for t in report.tables if t.table == "usage_records"]
    assert pruned.rows == 8 and pruned.batches >= 3
    assert sum(deletes) == 8 and max(deletes) <= 3  # never more than a batch in one transaction
    assert report.longest_batch_ms >= 0 and not report.dry_run


async def test_a_dry_run_counts_what_would_go_and_deletes_nothing(services: Services, workspace: str) -> None:
    await record(services, [call(workspace, f"old_{n}", 100) for n in range(4)] + [call(workspace, "new", 1)])

    report = await retention(services).prune(dry_run=True)

    assert report.dry_run
    assert {t.table: t.rows for t in report.tables}["usage_records"] == 4
    assert len(await stored_request_ids(services)) == 5


async def test_before_prunes_records_older_than_that_day_whatever_the_setting(
    services: Services, workspace: str
) -> None:
    await record(services, [call(workspace, "ten_days", 10), call(workspace, "today", 0)])

    await retention(services, usage_days=0).prune()  # 0: kept forever
    kept = await stored_request_ids(services)
    await retention(services, usage_days=0).prune(before=(NOW - timedelta(days=5)).date())

    assert kept == {"ten_days", "today"}
    assert await stored_request_ids(services) == {"today"}


async def test_daily_sums_are_pruned_only_when_their_own_retention_says(services: Services, workspace: str) -> None:
    await record(services, [call(workspace, "old", 400), call(workspace, "recent", 100), call(workspace, "new", 1)])

    await retention(services).prune()
    after_records = await services.usage.aggregate(workspace_id=workspace, group_by=("day",))
    await retention(services, aggregate_days=365).prune()
    after_sums = await services.usage.aggregate(workspace_id=workspace, group_by=("day",))

    assert [r.calls for r in after_records] == [1, 1, 1]  # the records of 400 and 100 days ago are gone, not their sums
    assert [r.day for r in after_sums] == [(NOW - timedelta(days=d)).date() for d in (100, 1)]


async def test_the_background_task_prunes_and_stops_with_the_services(services: Services, workspace: str) -> None:
    await record(services, [call(workspace, "old", 120), call(workspace, "new", 1)])
    pruner = retention(services, first_delay_s=0.0, interval_s=3600.0)

    pruner.start()
    await eventually(lambda: _ids_are(services, {"new"}), "the background prune")
    await pruner.close()  # cancels the task sleeping until the next round


async def _ids_are(services: Services, expected: set[str]) -> bool:
    return await stored_request_ids(services) == expected


async def test_a_usage_flush_is_not_held_up_by_a_long_prune(services: Services, workspace: str) -> None:
    """Thousands of old records pruned 200 at a time: a flush in the middle waits at most for one batch."""
    old = [_row(workspace, n, NOW - timedelta(days=200)) for n in range(6000)]
    async with services.engine.begin() as connection:
        for start in range(0, len(old), 1000):
            await connection.execute(insert(UsageRecord), old[start : start + 1000])
    pruner = retention(services, batch_rows=200, pause_s=0.02)
    pruning = asyncio.create_task(pruner.prune())
    await eventually(lambda: _fewer_than(services, 6000), "the first batch")

    services.usage.record(call(workspace, "during", 0))
    assert await services.usage.flush() is True
    left_to_prune = await _count(services) - 1
    report = await pruning

    assert left_to_prune > 0  # the flush was written between two batches, not after the whole prune
    assert {t.table: t.rows for t in report.tables}["usage_records"] == 6000
    assert await stored_request_ids(services) == {"during"}


async def _count(services: Services) -> int:
    async with services.db() as session:
        return int(await session.scalar(select(func.count()).select_from(UsageRecord)) or 0)


async def _fewer_than(services: Services, count: int) -> bool:
    return await _count(services) < count


def _row(workspace_id: str, number: int, moment: datetime) -> dict[str, object]:
    return {
        "request_id": f"bulk_{number}",
        "workspace_id": workspace_id,
        "provider": "openai",
        "model": "gpt-4.1",
        "model_type": "llm",
        "provider_type": "custom",
        "status": "success",
        "created_at": moment,
    }


# --- the hosted quota ledger --------------------------------------------------------------------------------------


async def quota_balance(services: Services, workspace_id: str) -> tuple[int, int]:
    """The quota's `used`, and the sum of its ledger: always equal."""
    async with services.db() as session:
        used = await session.scalar(select(HostedQuota.used).where(HostedQuota.workspace_id == workspace_id))
        summed = await session.scalar(
            select(func.sum(QuotaLedgerEntry.amount)).where(QuotaLedgerEntry.workspace_id == workspace_id)
        )
    return int(used or 0), int(summed or 0)


async def test_closed_reservations_are_folded_into_one_carried_row_and_open_ones_stay(
    services: Services, workspace: str
) -> None:
    quota = services.quota
    settled = [await quota.reserve(workspace_id=workspace, provider="openai", model="gpt-4.1") for _ in range(5)]
    released = await quota.reserve(workspace_id=workspace, provider="openai", model="gpt-4.1")
    still_open = await quota.reserve(workspace_id=workspace, provider="openai", model="gpt-4.1")
    for reservation in settled:
        await quota.settle(reservation)
    await quota.release(released)
    await quota.flush()
    before = await quota_balance(services, workspace)

    kept = await retention(services).prune()  # 400 days: nothing is old yet
    report = await retention(services).prune(now=NOW + timedelta(days=401))
    later = await quota.reserve(workspace_id=workspace, provider="openai", model="gpt-4.1")
    await quota.settle(later)
    await quota.flush()
    again = await retention(services).prune(now=NOW + timedelta(days=802))

    entries = await quota.ledger(workspace_id=workspace)
    assert before == (6, 6)  # five settled and one open, one call each
    assert {t.table: t.rows for t in kept.tables}["quota_ledger"] == 0
    assert {t.table: t.rows for t in report.tables}["quota_ledger"] == 12  # six closed reservations, two rows each
    assert {t.table: t.rows for t in again.tables}["quota_ledger"] == 2
    assert [(e.reservation_id, e.kind, e.amount) for e in entries] == [
        (still_open.id, "reserve", 1),
        (carried_id(workspace, "openai"), "carried", 6),  # five settled, the later one; the release added nothing
    ]
    assert await quota_balance(services, workspace) == (7, 7)
    assert [s.used for s in await quota.status(workspace_id=workspace)] == [7]
    assert await quota.reconcile() == 0  # the carried row is not an open reservation


# --- the budget ledger ------------------------------------------------------------------------------------------


def budget_row(workspace_id: str, meter: str, reservation_id: str, step: int, amount: int) -> LedgerRow:
    kind = "reserve" if step == 0 else "settle"
    return LedgerRow(workspace_id, meter, reservation_id, "openai/gpt-4.1", kind, step, amount, None, NOW)


async def budget_balances(services: Services, workspace_id: str) -> dict[str, tuple[int, int, int]]:
    """Per period: `used`, the sum of its ledger, and its rows."""
    async with services.db() as session:
        counters = select(BudgetCounter.meter, BudgetCounter.used).where(BudgetCounter.workspace_id == workspace_id)
        used = {meter: spent for meter, spent in await session.execute(counters)}
        ledger = (
            await session.execute(
                select(BudgetLedgerEntry.meter, func.sum(BudgetLedgerEntry.amount), func.count())
                .where(BudgetLedgerEntry.workspace_id == workspace_id)
                .group_by(BudgetLedgerEntry.meter)
            )
        ).all()
    return {meter: (used[meter], int(summed), rows) for meter, summed, rows in ledger}


async def test_budget_rows_of_a_running_period_stay_and_ended_periods_are_carried(
    services: Services, workspace: str
) -> None:
    this_month = NOW.date().replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    meters = {
        "running": f"key:key_1:monthly:{this_month.isoformat()}",
        "ended": f"key:key_1:monthly:{last_month.isoformat()}",
        "forever": "workspace:none",
    }
    writer = LedgerWriter(services.db, BUDGETS)
    for name, meter in meters.items():
        for n in range(3):
            writer.add(budget_row(workspace, meter, f"rsv_{name}_{n}", 0, 500))
            writer.add(budget_row(workspace, meter, f"rsv_{name}_{n}", 1, -200))
    writer.add(budget_row(workspace, meters["forever"], "rsv_open", 0, 700))  # its call is still running
    await writer.flush()

    await retention(services).prune(before=NOW.date() + timedelta(days=1))  # every row is older than that

    balances = await budget_balances(services, workspace)
    assert balances[meters["running"]] == (900, 900, 6)  # untouched
    assert balances[meters["ended"]] == (900, 900, 1)  # one carried row
    assert balances[meters["forever"]] == (1600, 1600, 2)  # the carried row, and the open reservation


@pytest.mark.parametrize(
    ("meter", "is_open"),
    [
        ("key:k:daily:2026-12-07", True),
        ("key:k:daily:2026-12-06", False),
        ("key:k:weekly:2026-12-07", True),  # a Monday: its week runs to the 13th
        ("key:k:weekly:2026-11-30", False),
        ("workspace:monthly:2026-12-01", True),
        ("workspace:monthly:2026-11-01", False),
        ("workspace:none", False),  # never resets: its carried row keeps the sum
        ("key:k:yearly:2026-01-01", True),  # a window this code does not know: kept
        ("odd-meter", True),
    ],
)
def test_budget_period_is_open_until_its_period_ends(meter: str, is_open: bool) -> None:
    assert budget_period_is_open(meter, datetime(2026, 12, 7, 12, tzinfo=UTC)) is is_open
