"""The daily usage sums: written with each batch of records, equal to the records' totals, and filled by migration
0008 from the records an older version wrote. Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import msgspec
from sqlalchemy import func, insert, select

from modelyard.services.context import Services
from modelyard.services.usage import GROUP_KEYS, UsageAggregate, UsageEvent
from modelyard.store.database import create_engine, migrate
from modelyard.store.tables import UsageDaily, UsageRecord, Workspace
from modelyard.types import Usage
from tests.support import make_settings

START = datetime(2026, 11, 3, 22, 0, tzinfo=UTC)  # two hours before a day ends: events fall on both sides
Totals = dict[tuple[object, ...], tuple[object, ...]]


def varied_events(workspace_id: str, count: int) -> list[UsageEvent]:
    """Events that differ in every group key, status and currency, with prices of up to twelve places."""
    keys = itertools.cycle(["key_a", None, "key_b"])
    models = itertools.cycle(
        [("openai", "gpt-5", "llm"), ("cohere", "rerank-v3.5", "rerank"), ("openai", "gpt-5", "llm")]
    )
    statuses = itertools.cycle(["success", "success", "error", "cache_hit", "cancelled"])
    currencies = itertools.cycle(["USD", "USD", "CNY"])
    events = []
    for n in range(count):
        provider, model, model_type = next(models)
        usage = Usage(
            prompt_tokens=n * 7 % 1000,
            completion_tokens=n * 3 % 500,
            cached_tokens=n % 11,
            cache_write_tokens=n % 5,
            reasoning_tokens=n % 13,
            total_price=Decimal(n % 97) * Decimal("0.0000012345") + Decimal("0.000000000126"),
            currency=next(currencies),
        )
        status = next(statuses)
        events.append(
            UsageEvent(
                request_id=f"req_{n}",
                workspace_id=workspace_id,
                api_key_id=next(keys),
                provider=provider,
                model=model,
                model_type=model_type,
                provider_type="custom" if n % 4 else "system",
                credential_ref=None,
                usage=None if status == "error" and n % 2 else usage,
                status=status,  # type: ignore[arg-type]
                error_class="UpstreamTimeoutError" if status == "error" else None,
                created_at=START + timedelta(minutes=7 * n),
            )
        )
    return events


async def record_totals(services: Services, workspace_id: str) -> Totals:
    """The totals summed in Python from the records themselves, grouped by every key the views group by."""
    async with services.db() as session:
        records = (await session.scalars(select(UsageRecord).where(UsageRecord.workspace_id == workspace_id))).all()
    sums: dict[tuple[object, ...], list[object]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0, 0, Decimal(0)])
    for r in records:
        key = (r.created_at.astimezone(UTC).date(), r.api_key_id, r.provider, r.model, r.model_type, r.currency)
        total = sums[key]
        for index, value in enumerate(
            (1, r.status == "error", r.status == "cache_hit", r.prompt_tokens, r.completion_tokens, r.cached_tokens)
        ):
            total[index] += int(value)  # type: ignore[operator]
        total[6] += r.reasoning_tokens  # type: ignore[operator]
        total[7] += r.total_price  # type: ignore[operator]
    return {key: tuple(total) for key, total in sums.items()}


def aggregate_totals(rows: list[UsageAggregate]) -> Totals:
    return {
        (r.day, r.api_key_id, r.provider, r.model, r.model_type, r.currency): (
            r.calls,
            r.errors,
            r.cache_hits,
            r.prompt_tokens,
            r.completion_tokens,
            r.cached_tokens,
            r.reasoning_tokens,
            r.total_price,
        )
        for r in rows
    }


async def test_daily_sums_equal_the_records_totals(services: Services, workspace: str) -> None:
    events = varied_events(workspace, 1200)  # three batches of 500: groups span batches and days
    for event in events:
        services.usage.record(event)
    assert await services.usage.flush() is True

    rows = await services.usage.aggregate(workspace_id=workspace, group_by=GROUP_KEYS)

    assert aggregate_totals(rows) == await record_totals(services, workspace)
    assert sum(r.calls for r in rows) == 1200
    assert {r.day for r in rows} == {date(2026, 11, day) for day in range(3, 10)}  # 1200 calls, 7 minutes apart
    expected_cache_writes = sum(e.usage.cache_write_tokens for e in events if e.usage is not None)
    assert sum(r.cache_write_tokens for r in rows) == expected_cache_writes  # the records do not keep it


async def test_a_group_is_one_row_per_day_however_many_batches_add_to_it(services: Services, workspace: str) -> None:
    for batch in range(3):
        for n in range(4):
            services.usage.record(
                msgspec.structs.replace(varied_events(workspace, 1)[0], request_id=f"req_{batch}_{n}")
            )
        assert await services.usage.flush() is True

    async with services.db() as session:
        rows = (await session.execute(select(UsageDaily.calls, UsageDaily.api_key_id))).all()

    assert rows == [(12, "key_a")]


async def test_a_refused_record_adds_nothing_to_the_sums(services: Services, workspace: str) -> None:
    doomed = (await services.workspaces.create("Doomed")).id
    await services.workspaces.delete(doomed)
    services.usage.record(varied_events(workspace, 1)[0])
    services.usage.record(varied_events(doomed, 1)[0])  # its workspace is gone: the database refuses the row
    assert await services.usage.flush() is True

    async with services.db() as session:
        sums = (await session.execute(select(UsageDaily.workspace_id, UsageDaily.calls))).all()

    assert sums == [(workspace, 1)]


async def test_migration_0008_sums_the_records_an_older_version_wrote(database, tmp_path: Path, runtime) -> None:
    backend, schema = database
    settings = make_settings(tmp_path, backend, schema)
    engine = create_engine(settings.database_url, schema=schema)
    events = varied_events("ws_old", 300)
    try:
        await migrate(engine, "0007")
        async with engine.begin() as connection:
            now = datetime.now(UTC)
            await connection.execute(insert(Workspace), [{"id": "ws_old", "name": "Old", "created_at": now}])
            await connection.execute(insert(UsageRecord), [_record(event) for event in events])
    finally:
        await engine.dispose()

    services = Services(settings, runtime=runtime)
    await services.start()  # migrates to the head
    try:
        rows = await services.usage.aggregate(workspace_id="ws_old", group_by=GROUP_KEYS)
        async with services.db() as session:
            groups = await session.scalar(select(func.count()).select_from(UsageDaily))

        assert aggregate_totals(rows) == await record_totals(services, "ws_old")
        assert sum(r.calls for r in rows) == 300
        assert groups == len({(r[0], r[1], r[2]) for r in _groups(events)})
    finally:
        await services.close()


def _record(event: UsageEvent) -> dict[str, object]:
    usage = event.usage or Usage()
    return {
        "request_id": event.request_id,
        "workspace_id": event.workspace_id,
        "api_key_id": event.api_key_id,
        "provider": event.provider,
        "model": event.model,
        "model_type": event.model_type,
        "provider_type": event.provider_type,
        "credential_ref": None,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cached_tokens": usage.cached_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "total_price": usage.total_price.quantize(Decimal("0.0000000001")),
        "currency": usage.currency,
        "latency_ms": 0,
        "status": event.status,
        "created_at": event.created_at,
    }


def _groups(events: list[UsageEvent]) -> set[tuple[object, ...]]:
    """Every stored group: (day, api key, the rest of the group) as usage_daily keys it."""
    return {
        (
            e.created_at.date(),
            e.api_key_id or "",
            (e.provider, e.model, e.model_type, e.provider_type, e.status, (e.usage or Usage()).currency),
        )
        for e in events
    }
