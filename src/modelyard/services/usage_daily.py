"""Usage per UTC day: the sums each batch of usage records adds, in its transaction, and the totals read from them.

Every usage view (the console's, `modelyard usage`) reads these sums, never the records, so their totals are the same
before and after the records are pruned (services/retention.py), and a month costs one row per day and group.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import Label

from modelyard.errors import InvalidRequestError
from modelyard.store.tables import UsageDaily

GROUP_KEYS = ("day", "api_key", "provider", "model", "model_type")  # api_key: the key's id (None: the console)

daily_table = cast(Table, UsageDaily.__table__)
# The unique group of a row: its upsert's conflict target. Sorted groups lock rows in one order: no deadlocks.
GROUP_COLUMNS = (
    "workspace_id",
    "day",
    "api_key_id",
    "provider",
    "model",
    "model_type",
    "provider_type",
    "status",
    "currency",
)
SUM_COLUMNS = (
    "calls",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "price_units",
)
PRICE_SCALE = 10  # price_units are 10**-10 of the currency, the places usage_records.total_price keeps


@dataclass(frozen=True, slots=True)
class UsageAggregate:
    """Totals for one group; the keys not grouped by are None. Prices are summed per currency."""

    day: date | None
    api_key_id: str | None
    provider: str | None
    model: str | None
    model_type: str | None
    calls: int
    errors: int
    cache_hits: int  # calls answered from the response cache: nothing spent
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    total_price: Decimal
    currency: str


def price_units(price: Decimal) -> int:
    """A price in 10**-10 units, rounded as the records' NUMERIC(20, 10) column rounds it (half away from zero)."""
    return int(price.scaleb(PRICE_SCALE).to_integral_value(ROUND_HALF_UP))


def daily_rows(records: Iterable[Mapping[str, Any]], cache_writes: Sequence[int]) -> list[dict[str, Any]]:
    """The records' sums per day and group, sorted by group; `cache_writes` pairs with `records` (they lack it)."""
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for record, cache_write_tokens in zip(records, cache_writes, strict=True):
        moment: datetime = record["created_at"]  # aware UTC, as written
        group = (
            record["workspace_id"],
            moment.date(),
            record["api_key_id"] or "",
            record["provider"],
            record["model"],
            record["model_type"],
            record["provider_type"],
            record["status"],
            record["currency"],
        )
        sums = groups.get(group)
        if sums is None:
            sums = groups[group] = dict(zip(GROUP_COLUMNS, group, strict=True)) | dict.fromkeys(SUM_COLUMNS, 0)
        sums["calls"] += 1
        sums["prompt_tokens"] += record["prompt_tokens"]
        sums["completion_tokens"] += record["completion_tokens"]
        sums["cached_tokens"] += record["cached_tokens"]
        sums["cache_write_tokens"] += cache_write_tokens
        sums["reasoning_tokens"] += record["reasoning_tokens"]
        sums["price_units"] += price_units(record["total_price"])
    return [groups[group] for group in sorted(groups)]


def upsert_statement(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (the group) DO UPDATE adding the sums: one statement for SQLite and PostgreSQL."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(daily_table)
    return statement.on_conflict_do_update(
        index_elements=list(GROUP_COLUMNS),
        set_={name: daily_table.c[name] + statement.excluded[name] for name in SUM_COLUMNS},
    )


async def add_to_daily(connection: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Add a batch's sums, in the caller's transaction (the one that writes its records)."""
    if rows:
        await connection.execute(upsert_statement(connection.dialect.name), rows)


async def daily_totals(
    db: async_sessionmaker[AsyncSession],
    *,
    workspace_id: str,
    since: date | None = None,
    until: date | None = None,
    group_by: Sequence[str] = ("day", "provider", "model"),
) -> list[UsageAggregate]:
    """Totals per group, days in UTC from `since` to `until` inclusive."""
    if isinstance(group_by, str) or not set(group_by) <= set(GROUP_KEYS):
        raise InvalidRequestError(f"usage is grouped by any of {', '.join(GROUP_KEYS)}", field="group_by")
    if since is not None and until is not None and since > until:
        raise InvalidRequestError("`since` is after `until`", field="since")
    daily = daily_table.c
    columns = {
        "day": daily.day,
        "api_key": daily.api_key_id,
        "provider": daily.provider,
        "model": daily.model,
        "model_type": daily.model_type,
    }
    keys: list[Label[Any]] = [columns[name].label(name) for name in GROUP_KEYS if name in group_by]
    conditions: list[ColumnElement[bool]] = [daily.workspace_id == workspace_id]
    if since is not None:
        conditions.append(daily.day >= since)
    if until is not None:
        conditions.append(daily.day <= until)
    query = (
        select(
            *keys,
            daily.currency,
            *(func.sum(daily[name]).label(name) for name in SUM_COLUMNS),
            func.sum(case((daily.status == "error", daily.calls), else_=0)).label("errors"),
            func.sum(case((daily.status == "cache_hit", daily.calls), else_=0)).label("cache_hits"),
        )
        .where(*conditions)
        .group_by(*keys, daily.currency)
        .order_by(*keys, daily.currency)
    )
    async with db() as session:
        rows = (await session.execute(query)).mappings().all()
    return [
        UsageAggregate(
            day=row.get("day"),
            api_key_id=row.get("api_key") or None,
            provider=row.get("provider"),
            model=row.get("model"),
            model_type=row.get("model_type"),
            calls=int(row["calls"]),
            errors=int(row["errors"]),
            cache_hits=int(row["cache_hits"]),
            prompt_tokens=int(row["prompt_tokens"]),
            completion_tokens=int(row["completion_tokens"]),
            cached_tokens=int(row["cached_tokens"]),
            cache_write_tokens=int(row["cache_write_tokens"]),
            reasoning_tokens=int(row["reasoning_tokens"]),
            total_price=Decimal(int(row["price_units"])).scaleb(-PRICE_SCALE),
            currency=row["currency"],
        )
        for row in rows
    ]
