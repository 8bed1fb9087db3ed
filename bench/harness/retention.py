"""Retention: what a call costs on disk, and how long pruning can keep a usage flush waiting.

Runs in-process in the project venv on a throwaway database: SQLite in a temporary directory, or with `--postgres`
a throwaway schema on the test PostgreSQL, dropped at the end. Prints one JSON document.
`cd bench && ../.venv/bin/python -m harness.retention MEASURE [options]`, MEASURE one of:

- `bytes`: `--calls` usage records spread over `--days` days, `--workspaces` workspaces, 3 API keys and 4 models
  each, written by the usage recorder (records and daily sums), then the bytes of each table with its indexes:
  per record, per daily row, and per call for the history past the retention (daily rows only); "before" is the
  same records under migration 0007 (its created_at index, no daily sums);
- `prune`: `--calls` records older than the retention pruned by `Retention.prune()` while the usage recorder
  writes a batch of 500 every 100 ms: the longest batch transaction, and the flushes' wall times during the prune
  against the same flushes without it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from modelyard.services.context import Services
from modelyard.services.retention import Retention
from modelyard.services.usage import UsageEvent, _row
from modelyard.settings import Settings
from modelyard.store.database import create_engine, migrate
from modelyard.store.tables import UsageRecord, Workspace
from modelyard.types import Usage

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
MODELS = [("openai", "gpt-5.2"), ("openai", "gpt-5-mini"), ("anthropic", "claude-sonnet-4-5"), ("deepseek", "chat")]
NOW = datetime.now(UTC)


@contextlib.asynccontextmanager
async def database(postgres: bool) -> AsyncIterator[tuple[str, str | None, Path]]:
    """(url, schema, home) of an empty database, removed afterwards."""
    with tempfile.TemporaryDirectory() as home:
        if not postgres:
            yield f"sqlite+aiosqlite:///{home}/m.db", None, Path(home)
            return
        import asyncpg

        schema = f"bench_{secrets.token_hex(4)}"
        connection = await asyncpg.connect(POSTGRES)
        await connection.execute(f"CREATE SCHEMA {schema}")
        try:
            yield POSTGRES.replace("://", "+asyncpg://", 1), schema, Path(home)
        finally:
            await connection.execute(f"DROP SCHEMA {schema} CASCADE")
            await connection.close()


def settings(url: str, schema: str | None, home: Path) -> Settings:
    return Settings(
        home=home,
        database_url=url,
        database_schema=schema,
        redis_url=None,
        secret_key="bench-master-key-0123456789abcdef0123",
        host="127.0.0.1",
        port=0,
        hosted_config=None,
    )


def events(workspaces: list[str], calls: int, days: int, *, oldest_days: float = 0.0) -> list[UsageEvent]:
    rng = random.Random(7)
    spread = days * 86400
    out = []
    for n in range(calls):
        workspace = workspaces[n % len(workspaces)]
        provider, model = MODELS[rng.randrange(len(MODELS))]
        moment = NOW - timedelta(days=oldest_days) - timedelta(seconds=spread * (calls - n) / calls)
        usage = Usage(
            prompt_tokens=rng.randrange(50, 4000),
            completion_tokens=rng.randrange(10, 800),
            cached_tokens=rng.choice([0, 0, 1024]),
            total_price=Decimal(rng.randrange(1, 10**6)) * Decimal("0.0000000123"),
            latency_s=rng.random() * 3,
            time_to_first_token_s=rng.random(),
        )
        out.append(
            UsageEvent(
                request_id=f"chatcmpl-{secrets.token_hex(12)}",
                workspace_id=workspace,
                api_key_id=f"key_{workspace[-12:]}{n % 3}",
                provider=provider,
                model=model,
                model_type="llm",
                provider_type="custom",
                credential_ref=f"cred_{secrets.token_hex(10)}"[:25],
                usage=usage,
                status="success" if rng.random() > 0.02 else "error",
                error_class=None,
                created_at=moment,
            )
        )
    return out


async def table_bytes(services: Services, tables: list[str]) -> dict[str, int]:
    async with services.engine.connect() as connection:
        if services.engine.dialect.name == "postgresql":
            return {
                t: int((await connection.execute(text(f"SELECT pg_total_relation_size('{t}')"))).scalar() or 0)
                for t in tables
            }
        rows = (await connection.execute(text("SELECT tbl_name, name FROM sqlite_master"))).all()
        sizes = {name: 0 for name in tables}
        pages = dict((await connection.execute(text("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"))).all())
        for table, name in rows:  # a table's indexes count with it
            if table in sizes:
                sizes[table] += int(pages.get(name, 0))
        return sizes


async def make_workspaces(services: Services, count: int) -> list[str]:
    ids = [f"ws_{secrets.token_hex(10)}" for _ in range(count)]
    async with services.engine.begin() as connection:
        await connection.execute(insert(Workspace), [{"id": i, "name": i, "created_at": NOW} for i in ids])
    return ids


async def measure_bytes(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"calls": args.calls, "days": args.days}
    async with database(args.postgres) as (url, schema, home):
        engine = create_engine(url, schema=schema)
        await migrate(engine, "0007")  # the schema before daily sums: the records and their two indexes
        await engine.dispose()
        services = Services(settings(url, schema, home))
        await services.start_for_command(run_migrations=False)
        workspaces = await make_workspaces(services, args.workspaces)
        rows = [_old_row(e) for e in events(workspaces, args.calls, args.days)]
        async with services.engine.begin() as connection:
            for start in range(0, len(rows), 2000):
                await connection.execute(insert(UsageRecord.__table__), rows[start : start + 2000])
        await _analyze(services)
        before = (await table_bytes(services, ["usage_records"]))["usage_records"]
        await services.close()
    async with database(args.postgres) as (url, schema, home):
        services = Services(settings(url, schema, home))
        await services.start_for_command()
        workspaces = await make_workspaces(services, args.workspaces)
        for item in events(workspaces, args.calls, args.days):
            services.usage.record(item)
        assert await services.usage.flush()
        await _analyze(services, ("usage_records", "usage_daily"))
        after = await table_bytes(services, ["usage_records", "usage_daily"])
        async with services.engine.connect() as connection:
            groups = int((await connection.execute(text("SELECT count(*) FROM usage_daily"))).scalar() or 0)
        await services.close()
    per_record_before = before / args.calls
    per_record = after["usage_records"] / args.calls
    per_group_day = after["usage_daily"] / groups
    calls_per_day = args.calls / args.days
    result |= {
        "before_bytes_per_call": round(per_record_before),
        "after_record_bytes_per_call": round(per_record),
        "daily_rows": groups,
        "daily_bytes_per_row": round(per_group_day),
        "daily_bytes_per_call": round(after["usage_daily"] / args.calls, 1),  # kept past the records' retention
        "calls_per_group_day": round(args.calls / groups, 1),
        "after_bytes_per_call_within_retention": round(per_record + after["usage_daily"] / args.calls, 1),
        "steady_state_mb_at_this_rate_90_days_records_plus_a_year_of_sums": round(
            (90 * calls_per_day * per_record + 365 * groups / args.days * per_group_day) / 1e6, 1
        ),
        "before_mb_for_a_year_at_this_rate": round(365 * calls_per_day * per_record_before / 1e6, 1),
    }
    return result


async def _analyze(services: Services, tables: tuple[str, ...] = ("usage_records",)) -> None:
    if services.engine.dialect.name == "postgresql":
        async with services.engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            for table in tables:  # the upserts' dead row versions out, as autovacuum would reuse them
                await connection.execute(text(f"VACUUM FULL {table}"))
    else:
        async with services.engine.begin() as connection:
            await connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def _old_row(event: UsageEvent) -> dict[str, Any]:
    return _row(event)  # the columns the recorder writes


async def measure_prune(args: argparse.Namespace) -> dict[str, Any]:
    async with database(args.postgres) as (url, schema, home):
        services = Services(settings(url, schema, home))
        await services.start_for_command()
        workspaces = await make_workspaces(services, args.workspaces)
        old = events(workspaces, args.calls, 30, oldest_days=100)
        for item in old:
            services.usage.record(item)
        assert await services.usage.flush()
        baseline = await _flushes(services, workspaces, None)
        pruner = Retention(services.engine, usage_days=90, ledger_days=400)
        pruning = asyncio.create_task(pruner.prune())
        during = await _flushes(services, workspaces, pruning)
        report = await pruning
        await services.close()
    return {
        "calls_pruned": report.tables[0].rows,
        "batches": report.tables[0].batches,
        "longest_batch_ms": report.longest_batch_ms,
        "flush_ms_without_prune": _summary(baseline),
        "flush_ms_during_prune": _summary(during),
    }


async def _flushes(services: Services, workspaces: list[str], until: asyncio.Task[Any] | None) -> list[float]:
    """Batches of 500 every 100 ms (5,000 calls/s): 50 of them, or until the prune ends; each flush's wall time."""
    times = []
    started = time.perf_counter()
    while time.perf_counter() - started < 60:
        for item in events(workspaces, 500, 1):
            services.usage.record(item)
        begun = time.perf_counter()
        assert await services.usage.flush()
        times.append((time.perf_counter() - begun) * 1000)
        if until.done() if until is not None else len(times) >= 50:
            break
        await asyncio.sleep(0.1)
    return times


def _summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "flushes": len(times),
        "p50": round(statistics.median(ordered), 1),
        "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
        "max": round(ordered[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("measure", choices=["bytes", "prune"])
    parser.add_argument("--postgres", action="store_true", help="the test PostgreSQL instead of SQLite")
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30, help="bytes: the days the calls spread over")
    parser.add_argument("--workspaces", type=int, default=20)
    args = parser.parse_args()
    measure = measure_bytes if args.measure == "bytes" else measure_prune
    print(json.dumps({"database": "postgresql" if args.postgres else "sqlite"} | asyncio.run(measure(args)), indent=2))


if __name__ == "__main__":
    main()
