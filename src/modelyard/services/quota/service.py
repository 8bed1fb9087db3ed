"""Hosted quota: reserve -> invoke -> settle or release, atomic under concurrency, with a ledger of every step.

Which counter decides a reservation:

* without Redis, the database (`sql_counter`): the reservation is one conditional UPDATE and a ledger row, in one
  transaction;
* with Redis (shared by replicas), a counter in Redis changed by Lua scripts (`redis_counter`); the hot path
  writes nothing to the database.

Settlements and releases are always batched (`ledger`); with Redis, every row waits in Redis until written
(`journal`). In the database `used` always equals the sum of the ledger's amounts: a batch changes both in one
transaction. A reservation a crash left open is settled as reserved once no call can close it (`reconcile`).
Without Redis, quota given back by a release is spendable again after the next flush (at most FLUSH_INTERVAL_S
later).

The gateway's calls reserve from leases (`lease`): blocks of the quota this process reserves ahead, so a call's
reservation and settlement touch neither the database nor Redis, and the ledger holds a lease's reservation and its
settlement (what its calls spent) instead of each call's. Near the limit a lease is one call's reservation again.

A token quota reserves the call's worst case (`estimate`: the prompt counted with the shipped tokenizer, plus
max_tokens or the model's output limit), or, when less remains, what remains; the settlement replaces it with
the real usage and gives back the rest. Calls whose usage stays within their reservation never spend past the
limit; the overshoot is what a call uses beyond its reservation (a provider that counts more prompt tokens than
o200k does, or that ignores max_tokens).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import BigInteger, String, exists, insert, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.errors import InvalidRequestError, ModelNotFoundError, NotFoundError
from modelyard.runtime import tokenizer
from modelyard.services.hosted import HostedProvider
from modelyard.services.quota.estimate import CallEstimate
from modelyard.services.quota.lease import LEASE_S, Granted, Hold, LeasePool
from modelyard.services.quota.ledger import LedgerWriter, quota_table
from modelyard.services.quota.reconcile import Reconciler
from modelyard.services.quota.redis_counter import RedisCounter
from modelyard.services.quota.sql_counter import SqlCounter
from modelyard.services.quota.values import Demand, LedgerEntry, LedgerKind, QuotaStatus, Reservation
from modelyard.store.cache import RedisCache
from modelyard.store.tables import HostedQuota, QuotaLedgerEntry, Workspace, new_id

if TYPE_CHECKING:
    from modelyard.services.context import Services


class QuotaService:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._writer = LedgerWriter(services.db)
        cache = services.cache
        self._counter: SqlCounter | RedisCounter = (
            RedisCounter(cache, services.db, self._writer)
            if isinstance(cache, RedisCache)
            else SqlCounter(services.db, self._writer, dialect=services.engine.dialect.name)
        )
        # A call ends within its total timeout, and a lease's last call starts within LEASE_S of the lease: a
        # reservation open a minute past both has no call left to close it.
        stale_after_s = services.timeouts.total_s + LEASE_S + 60
        self.reconciler = Reconciler(services.db, self._counter.settle_orphan, stale_after_s=stale_after_s)
        self._leases: LeasePool[tuple[str, str], Reservation] = LeasePool(self._renew_lease, self._give_back)
        self._closing: set[asyncio.Future[object]] = set()

    async def start(self) -> None:
        await self._grant_missing()
        if any(hosted.unit == "tokens" for hosted in self._services.hosted.providers.values()):
            # Token quotas count every prompt: load the tokenizer (≈ 0.3 s) now, not on the first call's event loop.
            await asyncio.to_thread(tokenizer.encoding)
        self._writer.start()
        self.reconciler.start(self._catch_up)

    async def close(self) -> None:
        self._leases.close()  # unused quota goes back; calls still in flight (none after a drain) count as reserved
        await self._settled_leases()
        await self.reconciler.close()
        await self._writer.close()  # writes what is queued

    async def reconcile(self) -> int:
        """Settle, as reserved, the reservations left open by processes that died (see `reconcile`); it also runs at
        start-up and every RECONCILE_INTERVAL_S. Returns how many it settled."""
        await self._catch_up()
        settled = await self.reconciler.run_once()
        await self._writer.flush()
        return settled

    async def _catch_up(self) -> None:
        """Bring the ledger up to date first: rows queued here, and those in Redis journals (a dead process's too)."""
        if isinstance(self._counter, RedisCounter):
            await self._counter.journals.adopt()
        await self._writer.flush()

    async def flush(self) -> None:
        """Write queued ledger rows now, instead of at the next tick, with every lease whose calls have ended
        settled (a lease with calls in flight is retired, and settled when they end)."""
        self._leases.retire_all()
        await self._settled_leases()
        await self._writer.flush()

    async def grant_trial(self, session: AsyncSession, *, workspace_id: str) -> None:
        """Give a new workspace its quota on every hosted provider, in the transaction that creates it."""
        session.add_all(_quota_row(workspace_id, hosted) for hosted in self._services.hosted.providers.values())

    async def status(self, *, workspace_id: str) -> list[QuotaStatus]:
        """The workspace's quota on each hosted provider, in config order, as a reservation would see it: what this
        process's leases hold and no call has taken is not counted as used."""
        async with self._services.db() as session:
            rows = {
                row.provider: row
                for row in (await session.scalars(select(HostedQuota).where(HostedQuota.workspace_id == workspace_id)))
            }
        listed = [rows[provider] for provider in self._services.hosted.providers if provider in rows]
        used = await self._counter.used(listed)
        return [
            _status(row, spent - self._leases.unused((workspace_id, row.provider)))
            for row, spent in zip(listed, used, strict=True)
        ]

    async def reserve(
        self,
        *,
        workspace_id: str,
        provider: str,
        model: str,
        amount: int | None = None,
        estimate: CallEstimate | None = None,
        idempotency_key: str | None = None,
        leased: bool = False,
    ) -> Reservation:
        """Set quota aside for one call, or raise HostedQuotaExceededError.

        The amount is in the quota's unit. `amount`, when given, is reserved whole or not at all. Otherwise the
        unit prices the call's worst case: 1 for times, the model's credits for credits, and for tokens the
        `estimate` (prompt plus max_tokens or the model's output limit); when less remains than a token estimate,
        or no estimate bounds the call, what remains is reserved and the reservation `is_capped`. A repeated
        `idempotency_key` returns the first reservation, marked `is_replay`, and spends nothing. The gateway passes
        no key here: it replays a repeated Idempotency-Key's first answer itself (gateway/idempotency.py), and a
        replayed reservation would let a call reach the provider without spending.

        `leased`: taken from this process's lease (`lease`; the gateway's calls), with the same bounds; a call whose
        worst case is unbounded, or that names an idempotency key, is reserved alone.
        """
        hosted = self._services.hosted.get(provider)
        if hosted is None:
            raise NotFoundError(f"{provider!r} is not a hosted provider")
        if not hosted.allows(model):
            raise ModelNotFoundError(f"the hosted {provider} provider does not offer {model!r}")
        if amount is not None and amount < 1:
            raise InvalidRequestError("a reservation is at least 1", field="amount")
        if idempotency_key is not None and not 0 < len(idempotency_key) <= 255:
            raise InvalidRequestError("an idempotency key is 1 to 255 characters", field="idempotency_key")
        if leased and idempotency_key is None and (amount is not None or hosted.unit != "tokens" or _bounded(estimate)):
            return await self._reserve_leased(workspace_id, provider, model, hosted, amount, estimate)
        demand = Demand.exactly(amount) if amount is not None else _worst_case(hosted, model, estimate)
        reservation = Reservation(
            id=new_id("rsv"),
            workspace_id=workspace_id,
            provider=provider,
            model=model,
            unit=hosted.unit,
            amount=0,  # what the counter grants
            idempotency_key=idempotency_key,
        )
        return await self._counter.reserve(reservation, demand)

    async def settle(self, reservation: Reservation, *, actual: int | None = None) -> None:
        """Close a reservation as spent; for a token quota, `actual` (the call's tokens) replaces the placeholder.

        Other units ignore `actual`: a call costs what was reserved. Closing twice, or settling after a release,
        changes nothing.
        """
        if actual is not None and actual < 0:
            raise InvalidRequestError("the actual amount cannot be negative", field="actual")
        if isinstance(reservation, LeasedReservation):
            self._leases.settle(reservation.hold, actual if reservation.unit == "tokens" else None)
        elif not reservation.is_replay:
            await self._counter.close(reservation, "settle", actual if reservation.unit == "tokens" else None)

    async def release(self, reservation: Reservation) -> None:
        """Close a reservation unspent (the call failed): its amount is given back."""
        if isinstance(reservation, LeasedReservation):
            self._leases.release(reservation.hold)
        elif not reservation.is_replay:
            await self._counter.close(reservation, "release", None)

    async def ledger(self, *, workspace_id: str, provider: str | None = None) -> list[LedgerEntry]:
        """Every written reserve, settle and release row, oldest first (`flush()` first to include queued ones)."""
        query = select(QuotaLedgerEntry).where(QuotaLedgerEntry.workspace_id == workspace_id)
        if provider is not None:
            query = query.where(QuotaLedgerEntry.provider == provider)
        async with self._services.db() as session:
            rows = (await session.scalars(query.order_by(QuotaLedgerEntry.id))).all()
        return [
            LedgerEntry(
                row.id,
                row.reservation_id,
                row.provider,
                row.model,
                cast(LedgerKind, row.kind),
                row.amount,
                row.idempotency_key,
                row.created_at,
            )
            for row in rows
        ]

    async def _reserve_leased(
        self,
        workspace_id: str,
        provider: str,
        model: str,
        hosted: HostedProvider,
        amount: int | None,
        estimate: CallEstimate | None,
    ) -> Reservation:
        refine = None
        if amount is not None:
            minimum = amount
        elif hosted.unit == "times":
            amount = minimum = 1
        elif hosted.unit == "credits":
            amount = minimum = hosted.credits.get(model, 1)
        else:  # tokens: the bound first; the tokenizer's count only if a renewal finds less left than the bound
            assert estimate is not None and estimate.tokens_bound is not None
            amount, minimum = max(estimate.tokens_bound, 1), 1
            refine = lambda: max(estimate.tokens or 0, 1)  # noqa: E731
        hold = self._leases.try_hold((workspace_id, provider), amount, refine)
        if hold is None:
            hold = await self._leases.hold((workspace_id, provider), amount, minimum, refine)
        lease = hold.lease.handle
        return LeasedReservation(
            lease.id, workspace_id, provider, model, hosted.unit, hold.amount, is_capped=hold.is_capped, hold=hold
        )

    async def _renew_lease(
        self, key: tuple[str, str], amount: int | None, minimum: int, block: int
    ) -> Granted[Reservation]:
        workspace_id, provider = key
        hosted = self._services.hosted.get(provider)
        assert hosted is not None
        reservation = Reservation(new_id("lse"), workspace_id, provider, LEASE_MODEL, hosted.unit, 0)
        reserved = await self._counter.reserve(reservation, Demand(amount, minimum), block=block)
        return Granted(reserved, reserved.amount, reserved.is_capped)

    def _give_back(self, reservation: Reservation, granted: int, spent: int) -> None:
        """Close a lease's reservation at what was spent of it (Redis: a script, sent from a task; the database: a
        queued row)."""
        kind: LedgerKind = "settle" if spent else "release"
        closing: asyncio.Future[object] = asyncio.ensure_future(
            self._counter.close(reservation, kind, spent if spent else None)
        )
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def _settled_leases(self) -> None:
        while self._closing:
            await asyncio.gather(*list(self._closing), return_exceptions=True)

    async def _grant_missing(self) -> None:
        """Grant every existing workspace its quota on hosted providers it lacks (the config gained one)."""
        if not self._services.hosted.providers:
            return
        for attempt in range(2):
            try:
                async with self._services.db.begin() as session:
                    for hosted in self._services.hosted.providers.values():
                        await session.execute(_grant_to_all_lacking(hosted))
                return
            except IntegrityError:  # another replica granted the same rows first; the retry skips them
                if attempt:
                    raise


LEASE_MODEL = "*"  # a lease's ledger rows name no model: its calls may be of any the provider hosts


@dataclass(frozen=True, slots=True, kw_only=True)
class LeasedReservation(Reservation):
    """A call's part of a lease (`reserve(leased=True)`); its `id` is the lease's, whose ledger rows account for it."""

    hold: Hold[tuple[str, str], Reservation]


def _bounded(estimate: CallEstimate | None) -> bool:
    return estimate is not None and estimate.output_tokens is not None


def _worst_case(hosted: HostedProvider, model: str, estimate: CallEstimate | None) -> Demand:
    """The most a call can cost in the quota's unit; a token estimate may be cut to what remains."""
    if hosted.unit == "times":
        return Demand.exactly(1)
    if hosted.unit == "credits":
        return Demand.exactly(hosted.credits.get(model, 1))
    tokens = None if estimate is None else estimate.tokens
    return Demand(None if tokens is None else max(tokens, 1), 1)


def _quota_row(workspace_id: str, hosted: HostedProvider) -> HostedQuota:
    return HostedQuota(
        workspace_id=workspace_id,
        provider=hosted.provider,
        quota_type=hosted.quota_type,
        unit=hosted.unit,
        quota_limit=hosted.limit,
        used=0,
    )


def _grant_to_all_lacking(hosted: HostedProvider) -> Any:
    lacking = select(
        Workspace.id,
        literal(hosted.provider, String),
        literal(hosted.quota_type, String),
        literal(hosted.unit, String),
        literal(hosted.limit, BigInteger),
        literal(0, BigInteger),
    ).where(~exists().where(HostedQuota.workspace_id == Workspace.id, HostedQuota.provider == hosted.provider))
    return insert(quota_table).from_select(
        ["workspace_id", "provider", "quota_type", "unit", "quota_limit", "used"], lacking
    )


def _status(row: HostedQuota, used: int) -> QuotaStatus:
    unlimited = row.quota_limit < 0
    return QuotaStatus(
        provider=row.provider,
        quota_type=row.quota_type,
        unit=row.unit,
        limit=row.quota_limit,
        used=used,
        remaining=None if unlimited else max(row.quota_limit - used, 0),
        is_exhausted=not unlimited and used >= row.quota_limit,
    )
