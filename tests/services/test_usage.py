from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from modelyard.errors import InvalidRequestError
from modelyard.services.usage import UsageEvent, UsageRecorder
from modelyard.store.tables import UsageRecord
from modelyard.types import Usage
from tests.support import eventually

NOON = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
_ids = itertools.count()


def usage_event(
    workspace_id: str,
    *,
    provider: str = "openai",
    model: str = "gpt-5",
    model_type: str = "llm",
    price: str = "0",
    prompt: int = 10,
    completion: int = 5,
    currency: str = "USD",
    at: datetime = NOON,
    error: str | None = None,
    usage: Usage | bool | None = True,
    request_id: str | None = None,
) -> UsageEvent:
    if usage is True:
        usage = Usage(prompt_tokens=prompt, completion_tokens=completion, total_price=Decimal(price), currency=currency)
    return UsageEvent(
        request_id=request_id or f"req_{next(_ids)}",
        workspace_id=workspace_id,
        api_key_id="key_1",
        provider=provider,
        model=model,
        model_type=model_type,
        provider_type="custom",
        credential_ref="cred_1",
        usage=usage or None,
        status="error" if error else "success",
        error_class=error,
        created_at=at,
    )


@pytest.fixture
async def recorder(services) -> AsyncIterator[UsageRecorder]:
    """A recorder whose writer waits an hour between rounds: only full batches (500), flush() and close() write."""
    recorder = UsageRecorder(services, interval_s=3600)
    await recorder.start()
    try:
        yield recorder
    finally:
        await recorder.close()


async def stored_request_ids(services, workspace_id: str) -> list[str]:
    async with services.db() as session:
        query = select(UsageRecord.request_id).where(UsageRecord.workspace_id == workspace_id)
        return list((await session.scalars(query.order_by(UsageRecord.id))).all())


def count_usage_inserts(services) -> list[int]:
    """The rows of each INSERT into usage_records, one number per statement the driver ran."""
    seen: list[int] = []

    def before(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.startswith("INSERT INTO usage_records"):
            seen.append(len(parameters) if executemany else 1)

    event.listen(services.engine.sync_engine, "before_cursor_execute", before)
    return seen


def fail_usage_inserts(services, times: int) -> Callable[[], int]:
    """Make the next `times` INSERTs into usage_records fail as an unreachable database would."""
    failures = {"left": times}

    def before(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.startswith("INSERT INTO usage_records") and failures["left"] > 0:
            failures["left"] -= 1
            raise OperationalError(statement, {}, ConnectionRefusedError("database is down"))

    event.listen(services.engine.sync_engine, "before_cursor_execute", before)
    return lambda: failures["left"]


# --- buffering and writing -------------------------------------------------------------------------------------


async def test_record_is_buffered_until_flush(services, workspace, recorder) -> None:
    for _ in range(3):
        recorder.record(usage_event(workspace))

    assert recorder.pending == 3
    assert await stored_request_ids(services, workspace) == []
    assert await recorder.flush() is True
    assert recorder.pending == 0
    assert len(await stored_request_ids(services, workspace)) == 3


async def test_record_maps_usage_to_columns(services, workspace, recorder) -> None:
    usage = Usage(
        prompt_tokens=1200,
        completion_tokens=340,
        cached_tokens=1000,
        reasoning_tokens=128,
        total_price=Decimal("0.0012345678"),
        currency="CNY",
        latency_s=1.2345,
        time_to_first_token_s=0.2501,
    )
    recorder.record(usage_event(workspace, usage=usage, request_id="req_full"))
    recorder.record(usage_event(workspace, usage=None, error="UpstreamTimeoutError", request_id="req_failed"))
    await recorder.flush()

    failed, full = await services.usage.records(workspace_id=workspace)
    assert (full.request_id, full.prompt_tokens, full.completion_tokens) == ("req_full", 1200, 340)
    assert (full.cached_tokens, full.reasoning_tokens) == (1000, 128)
    assert (full.total_price, full.currency) == (Decimal("0.0012345678"), "CNY")
    assert (full.latency_ms, full.time_to_first_token_ms) == (1234, 250)
    assert (full.status, full.error_class, full.created_at) == ("success", None, NOON)
    assert (full.api_key_id, full.provider_type, full.credential_ref) == ("key_1", "custom", "cred_1")
    assert (failed.status, failed.error_class) == ("error", "UpstreamTimeoutError")
    assert (failed.prompt_tokens, failed.total_price, failed.time_to_first_token_ms) == (0, Decimal(0), None)


async def test_flush_writes_one_insert_per_batch(services, workspace, recorder) -> None:
    inserts = count_usage_inserts(services)
    recorder = UsageRecorder(services, interval_s=3600)  # not started: only flush() writes
    for _ in range(1234):
        recorder.record(usage_event(workspace))

    await recorder.flush()

    assert inserts == [500, 500, 234]
    assert len(await stored_request_ids(services, workspace)) == 1234


async def test_a_full_batch_is_written_without_waiting_for_the_interval(services, workspace) -> None:
    recorder = UsageRecorder(services, interval_s=3600, batch_size=10)
    await recorder.start()
    try:
        for _ in range(10):
            recorder.record(usage_event(workspace))
        await eventually(lambda: _count(services, workspace, 10), "10 usage records to be written")
    finally:
        await recorder.close()


async def _count(services, workspace: str, expected: int) -> bool:
    return len(await stored_request_ids(services, workspace)) == expected


async def test_the_writer_writes_on_its_interval(services, workspace) -> None:
    recorder = UsageRecorder(services, interval_s=0.01)
    await recorder.start()
    try:
        recorder.record(usage_event(workspace))
        await eventually(lambda: _count(services, workspace, 1), "1 usage record to be written")
    finally:
        await recorder.close()


async def test_close_writes_everything_still_buffered(services, workspace) -> None:
    recorder = UsageRecorder(services, interval_s=3600)
    await recorder.start()
    for _ in range(1201):
        recorder.record(usage_event(workspace))

    await recorder.close()

    assert recorder.pending == 0
    assert len(await stored_request_ids(services, workspace)) == 1201


async def test_services_close_flushes_the_usage_buffer(services, workspace) -> None:
    services.usage.record(usage_event(workspace, request_id="req_last"))

    await services.usage.close()  # as Services.close() does; the fixture closes again, which must be harmless

    assert await stored_request_ids(services, workspace) == ["req_last"]


async def test_a_failed_write_keeps_the_events_for_the_next_try(services, workspace, recorder, caplog) -> None:
    fail_usage_inserts(services, times=1)
    for n in range(25):
        recorder.record(usage_event(workspace, request_id=f"req_{n}"))

    with caplog.at_level(logging.WARNING, logger="modelyard.services.usage"):
        assert await recorder.flush() is False

    assert recorder.pending == 25
    assert await stored_request_ids(services, workspace) == []
    assert "could not write 25 usage records (OperationalError" in caplog.text
    assert await recorder.flush() is True
    assert await stored_request_ids(services, workspace) == [f"req_{n}" for n in range(25)]  # once each, in order


async def test_the_writer_retries_a_failed_batch_by_itself(services, workspace) -> None:
    failures_left = fail_usage_inserts(services, times=2)
    recorder = UsageRecorder(services, interval_s=0.01)
    await recorder.start()
    try:
        for _ in range(30):
            recorder.record(usage_event(workspace))
        await eventually(lambda: _count(services, workspace, 30), "30 usage records to be written")
        assert failures_left() == 0
    finally:
        await recorder.close()


async def test_a_full_buffer_keeps_the_newest_events_and_counts_the_dropped(services, workspace, caplog) -> None:
    recorder = UsageRecorder(services, interval_s=3600, max_buffered=5)
    for n in range(8):
        recorder.record(usage_event(workspace, request_id=f"req_{n}"))

    assert (recorder.pending, recorder.dropped) == (5, 3)
    with caplog.at_level(logging.WARNING, logger="modelyard.services.usage"):
        await recorder.close()

    assert await stored_request_ids(services, workspace) == [f"req_{n}" for n in range(3, 8)]
    assert "dropped the 3 oldest" in caplog.text


async def test_a_failed_batch_put_back_into_a_full_buffer_gives_way_to_newer_events(services, workspace) -> None:
    recorder = UsageRecorder(services, interval_s=3600, max_buffered=5)
    fail_usage_inserts(services, times=1)
    for n in range(5):
        recorder.record(usage_event(workspace, request_id=f"req_{n}"))
    assert await recorder.flush() is False
    for n in range(5, 7):
        recorder.record(usage_event(workspace, request_id=f"req_{n}"))

    await recorder.close()

    assert recorder.dropped == 2
    assert await stored_request_ids(services, workspace) == [f"req_{n}" for n in range(2, 7)]


async def test_a_row_the_database_refuses_does_not_cost_the_rest_of_its_batch(services, workspace, recorder) -> None:
    recorder.record(usage_event(workspace, request_id="req_before"))
    recorder.record(usage_event("ws_deleted_meanwhile", request_id="req_orphan"))  # fails its foreign key
    recorder.record(usage_event(workspace, request_id="req_after"))

    assert await recorder.flush() is True

    assert await stored_request_ids(services, workspace) == ["req_before", "req_after"]
    assert recorder.pending == 0


async def test_long_strings_are_clipped_to_their_columns(services, workspace, recorder) -> None:
    recorder.record(usage_event(workspace, request_id="r" * 200, model="m" * 300, error="E" * 100))

    assert await recorder.flush() is True

    (row,) = await services.usage.records(workspace_id=workspace)
    assert (len(row.request_id), len(row.model), len(row.error_class or "")) == (64, 255, 64)


async def test_concurrent_recording_while_the_writer_runs_loses_nothing(services, workspace) -> None:
    recorder = UsageRecorder(services, interval_s=0.005, batch_size=37)
    await recorder.start()

    async def producer(n: int) -> None:
        for i in range(100):
            recorder.record(usage_event(workspace, request_id=f"req_{n}_{i}"))
            if i % 7 == 0:
                await asyncio.sleep(0)

    await asyncio.gather(*(producer(n) for n in range(20)), recorder.flush(), recorder.flush())
    await recorder.close()

    stored = await stored_request_ids(services, workspace)
    assert sorted(stored) == sorted(f"req_{n}_{i}" for n in range(20) for i in range(100))


# --- aggregates ---------------------------------------------------------------------------------------------


async def record_and_flush(services, events: list[UsageEvent]) -> None:
    for item in events:
        services.usage.record(item)
    assert await services.usage.flush() is True


async def test_aggregate_sums_by_day_provider_and_model_with_exact_prices(services, workspace) -> None:
    day_two = NOON + timedelta(days=1)
    await record_and_flush(
        services,
        [
            usage_event(workspace, price="0.1", prompt=100, completion=10),
            usage_event(workspace, price="0.2", prompt=200, completion=20),
            usage_event(workspace, price="98765.4321098765", prompt=1, completion=1),
            usage_event(workspace, price="0.0000000001", prompt=0, completion=0, usage=None, error="UpstreamAuthError"),
            usage_event(workspace, model="gpt-5-mini", price="0.0000012345", prompt=7, completion=3),
            usage_event(workspace, provider="anthropic", model="claude-sonnet-4-5", price="0.3", at=day_two),
            usage_event(workspace, provider="anthropic", model="claude-sonnet-4-5", price="0.0000000007", at=day_two),
        ],
    )

    rows = await services.usage.aggregate(workspace_id=workspace)

    summary = [
        (r.day, r.provider, r.model, r.calls, r.errors, r.prompt_tokens, r.completion_tokens, r.total_price)
        for r in rows
    ]
    assert summary == [
        (date(2026, 11, 3), "openai", "gpt-5", 4, 1, 301, 31, Decimal("98765.7321098765")),
        (date(2026, 11, 3), "openai", "gpt-5-mini", 1, 0, 7, 3, Decimal("0.0000012345")),
        (date(2026, 11, 4), "anthropic", "claude-sonnet-4-5", 2, 0, 20, 10, Decimal("0.3000000007")),
    ]
    assert all(r.currency == "USD" and r.model_type is None for r in rows)


async def test_aggregate_buckets_days_in_utc(services, workspace) -> None:
    new_york = timezone(timedelta(hours=-5))
    late_evening = datetime(2026, 11, 3, 23, 30, tzinfo=new_york)  # 04:30 UTC on the 4th
    await record_and_flush(services, [usage_event(workspace, at=late_evening)])

    (row,) = await services.usage.aggregate(workspace_id=workspace, group_by=("day",))

    assert row.day == date(2026, 11, 4)


async def test_aggregate_filters_days_inclusively(services, workspace) -> None:
    days = [datetime(2026, 11, d, h, tzinfo=UTC) for d in (1, 2, 3, 4) for h in (0, 23)]
    await record_and_flush(services, [usage_event(workspace, at=moment) for moment in days])

    rows = await services.usage.aggregate(
        workspace_id=workspace, since=date(2026, 11, 2), until=date(2026, 11, 3), group_by=("day",)
    )
    only_since = await services.usage.aggregate(workspace_id=workspace, since=date(2026, 11, 4), group_by=())
    only_until = await services.usage.aggregate(workspace_id=workspace, until=date(2026, 11, 1), group_by=())

    assert [(r.day, r.calls) for r in rows] == [(date(2026, 11, 2), 2), (date(2026, 11, 3), 2)]
    assert [r.calls for r in only_since] == [2]
    assert [r.calls for r in only_until] == [2]


async def test_aggregate_groups_only_by_the_keys_asked_for(services, workspace) -> None:
    await record_and_flush(
        services,
        [
            usage_event(workspace, model="gpt-5", price="1.5"),
            usage_event(workspace, model="text-embedding-3-large", model_type="text-embedding", price="0.25"),
            usage_event(workspace, provider="cohere", model="rerank-v3.5", model_type="rerank", price="0.125"),
        ],
    )

    by_provider = await services.usage.aggregate(workspace_id=workspace, group_by=("provider",))
    by_type = await services.usage.aggregate(workspace_id=workspace, group_by=["model_type"])

    assert [(r.day, r.provider, r.model, r.calls, r.total_price) for r in by_provider] == [
        (None, "cohere", None, 1, Decimal("0.125")),
        (None, "openai", None, 2, Decimal("1.75")),
    ]
    assert [(r.model_type, r.calls) for r in by_type] == [("llm", 1), ("rerank", 1), ("text-embedding", 1)]


async def test_aggregate_never_adds_prices_across_currencies(services, workspace) -> None:
    await record_and_flush(
        services,
        [
            usage_event(workspace, price="1", currency="USD"),
            usage_event(workspace, price="2", currency="CNY"),
            usage_event(workspace, price="3", currency="USD"),
        ],
    )

    rows = await services.usage.aggregate(workspace_id=workspace, group_by=())

    assert [(r.currency, r.calls, r.total_price) for r in rows] == [("CNY", 1, Decimal(2)), ("USD", 2, Decimal(4))]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"group_by": ("day", "colour")}, "group_by"),
        ({"group_by": "day"}, "group_by"),
        ({"since": date(2026, 11, 5), "until": date(2026, 11, 4)}, "since"),
    ],
)
async def test_aggregate_refuses_bad_arguments(services, workspace, arguments, field) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        await services.usage.aggregate(workspace_id=workspace, **arguments)

    assert caught.value.field == field


async def test_usage_of_one_workspace_is_invisible_to_another(services, workspace) -> None:
    other = (await services.workspaces.create("Other")).id
    await record_and_flush(services, [usage_event(workspace, price="1"), usage_event(other, price="2")])

    mine = await services.usage.aggregate(workspace_id=workspace, group_by=())
    theirs = await services.usage.records(workspace_id=other)

    assert [(r.calls, r.total_price) for r in mine] == [(1, Decimal(1))]
    assert [r.total_price for r in theirs] == [Decimal(2)]
    assert await services.usage.aggregate(workspace_id="ws_unknown") == []
    assert await services.usage.records(workspace_id="ws_unknown") == []


# --- records ------------------------------------------------------------------------------------------------


async def test_records_page_newest_first(services, workspace) -> None:
    await record_and_flush(services, [usage_event(workspace, request_id=f"req_{n}") for n in range(7)])

    first = await services.usage.records(workspace_id=workspace, limit=3)
    second = await services.usage.records(workspace_id=workspace, limit=3, before_id=first[-1].id)
    last = await services.usage.records(workspace_id=workspace, limit=3, before_id=second[-1].id)

    assert [r.request_id for r in first + second + last] == [f"req_{n}" for n in reversed(range(7))]
    assert await services.usage.records(workspace_id=workspace, before_id=last[-1].id) == []


@pytest.mark.parametrize("limit", [0, -1, 1001])
async def test_records_refuse_a_limit_out_of_range(services, workspace, limit) -> None:
    with pytest.raises(InvalidRequestError):
        await services.usage.records(workspace_id=workspace, limit=limit)


async def test_a_deleted_workspace_takes_its_usage_with_it(services, workspace) -> None:
    await record_and_flush(services, [usage_event(workspace)])

    await services.workspaces.delete(workspace)

    async with services.db() as session:
        assert await session.scalar(select(func.count()).select_from(UsageRecord)) == 0


async def test_a_write_cancelled_midway_keeps_its_events(services, workspace) -> None:
    recorder = UsageRecorder(services, interval_s=3600)
    stalled = asyncio.Event()

    async def hang(batch: list[UsageEvent]) -> None:
        stalled.set()
        await asyncio.Event().wait()

    recorder._insert = hang  # type: ignore[method-assign]
    for n in range(3):
        recorder.record(usage_event(workspace, request_id=f"req_{n}"))
    flushing = asyncio.create_task(recorder.flush())
    await stalled.wait()
    flushing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await flushing

    assert recorder.pending == 3
    del recorder._insert
    await recorder.close()
    assert await stored_request_ids(services, workspace) == ["req_0", "req_1", "req_2"]
