"""Idempotency-Key records: claim a key for the first call, keep its answer, hand that answer to every repeat.

Which store holds them: Redis when configured (shared by replicas, no database write), else the database (a row per
key: the INSERT is the claim on SQLite and PostgreSQL). A repeat that finds the first call still running waits for
its answer, up to WAIT_S, polling the store (and woken at once when the first call runs in this process), then
gets IdempotencyConflictError (409, Retry-After). The first call's claim is a lease: a call that crashed frees its
key when the lease ends, the runtime's total timeout plus LEASE_MARGIN_S.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from modelyard.services.idempotency.redis_records import RedisRecords
from modelyard.services.idempotency.sql_records import SqlRecords
from modelyard.services.idempotency.values import (
    HEADER,
    Claim,
    Found,
    IdempotencyConflictError,
    IdempotencyKeyReusedError,
    KeyScope,
)
from modelyard.services.recorded import StoredAnswer
from modelyard.store.cache import Cache, RedisCache

log = logging.getLogger(__name__)

TTL_S = 24 * 3600  # how long an answer is replayed, as Stripe keeps its keys; MODELYARD_IDEMPOTENCY_HOURS
WAIT_S = 10.0  # how long a repeat waits for a running first call before its 409
LEASE_MARGIN_S = 60.0  # a lease outlives the call's total timeout by this much: reading the body, accounting
PRUNE_INTERVAL_S = 300.0
_POLL_FIRST_S = 0.02
_POLL_MOST_S = 0.5


class Records(Protocol):
    async def claim(self, scope: KeyScope, fingerprint: str, token: str, lease_s: float) -> Claim | Found | None: ...

    async def keep(self, claim: Claim, answer: StoredAnswer, ttl_s: float) -> bool: ...

    async def release(self, claim: Claim) -> None: ...

    async def prune(self) -> int: ...


class IdempotencyService:
    def __init__(
        self, records: Records, *, lease_s: float, ttl_s: float = TTL_S, wait_s: float = WAIT_S, prunes: bool = True
    ) -> None:
        self._records = records
        self.lease_s = lease_s
        self.ttl_s = ttl_s
        self.wait_s = wait_s
        self._prunes = prunes
        self._running: dict[KeyScope, asyncio.Event] = {}  # keys this process holds: their repeats here wake at once
        self._pruner: asyncio.Task[None] | None = None

    @classmethod
    def create(cls, engine: AsyncEngine, cache: Cache, *, call_timeout_s: float, ttl_s: float) -> IdempotencyService:
        lease_s = call_timeout_s + LEASE_MARGIN_S
        if isinstance(cache, RedisCache):
            return cls(RedisRecords(cache), lease_s=lease_s, ttl_s=ttl_s, prunes=False)
        return cls(SqlRecords(engine), lease_s=lease_s, ttl_s=ttl_s)

    async def begin(self, scope: KeyScope, fingerprint: str) -> Claim | StoredAnswer:
        """Claim the key for a first call, or return the first call's answer to a repeat.

        Raises IdempotencyKeyReusedError when the key was used with another fingerprint, and
        IdempotencyConflictError when the first call is still running after WAIT_S.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_s
        pause = _POLL_FIRST_S
        token = secrets.token_hex(16)
        while True:
            found = await self._records.claim(scope, fingerprint, token, self.lease_s)
            if isinstance(found, Claim):
                self._running[scope] = asyncio.Event()
                return found
            if found is not None:
                if found.fingerprint != fingerprint:
                    raise IdempotencyKeyReusedError(
                        f"this {HEADER} was used for another request (another route or body); "
                        "a key names one request: send a new key for a new request"
                    )
                if found.answer is not None:
                    return found.answer
            left = deadline - loop.time()
            if left <= 0:
                raise IdempotencyConflictError(
                    f"a request with this {HEADER} is still running; retry shortly to receive its answer"
                )
            await self._pause(scope, min(pause, left))
            pause = min(pause * 2, _POLL_MOST_S)

    async def finish(self, claim: Claim, answer: StoredAnswer | None) -> None:
        """Keep `answer` for the key's lifetime, or, with None, let the key go so a repeat runs as a new call."""
        try:
            if answer is None:
                await self._records.release(claim)
            elif not await self._records.keep(claim, answer, self.ttl_s):
                log.warning("an idempotent call outlived its lease; its answer was not kept")
        except Exception as exc:  # the lease frees the key; the caller already has its answer
            log.warning("could not finish an idempotency record (%s); its lease will free the key", type(exc).__name__)
        finally:
            woken = self._running.pop(claim.scope, None)
            if woken is not None:
                woken.set()

    async def _pause(self, scope: KeyScope, seconds: float) -> None:
        running_here = self._running.get(scope)
        if running_here is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(running_here.wait(), seconds)

    # --- expired records, in the background -----------------------------------------------------------------------

    async def start(self) -> None:
        if self._prunes and self._pruner is None:
            self._pruner = asyncio.create_task(self._prune_forever(), name="modelyard-idempotency-pruner")

    async def close(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
            self._pruner = None

    async def prune(self) -> int:
        """Delete expired records now (the background task does it every PRUNE_INTERVAL_S); returns how many."""
        return await self._records.prune()

    async def _prune_forever(self) -> None:
        while True:
            await asyncio.sleep(PRUNE_INTERVAL_S)
            try:
                await self._records.prune()
            except Exception as exc:  # the next round tries again
                log.warning("could not prune expired idempotency records (%s)", type(exc).__name__)
