"""Leases: blocks of a shared counter (a hosted quota, a budget period) that one process reserves ahead of its calls.

A call's hold is taken from its process's open lease in memory, with no round trip and no database write; only a
lease's renewal reaches the counter (one reservation, as a single call's used to), and only its close (one settlement:
what its calls spent) is written, in a batch. Exactness is the counter's: a lease is a reservation like any other,
so the counter never grants past its limit, and a process never holds past its leases.

Sizing (`grant`): a lease is sized for the calls this process sent during the last lease (doubling while they
outrun it, shrinking when they do not), and takes at most 1/SHARE of what remains. Near the limit that share falls
below one call's worst case, and a lease is exactly one call's reservation again: the last calls of a quota are
reserved one by one, so 500 concurrent calls on a 200-call trial still get exactly 200.

Life: a lease admits calls for LEASE_S, then retires; once its last call ends it is closed at what its calls spent,
and the rest goes back to the counter. A call it has no room for tops it up with another reservation from the
counter (at least what the call lacks), so no remainder is stranded while calls are in flight. `close()`
(shutdown) closes every lease, charging calls still in flight their holds. A process that dies leaves its leases
open: the counter's reconciliation settles them as reserved once no call can still draw on them (a crash charges
at most the unused part of its open leases, each at most 1/SHARE of what remained; never more than the limit).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

LEASE_S = 2.0  # how long a lease admits calls; its unused part goes back once its calls end
SHARE = 8  # a lease takes at most 1/SHARE of what remains
MAX_CALLS = 4096  # the most calls one lease is sized for

K = TypeVar("K", bound=Hashable)
H = TypeVar("H")  # the counter's handle on a lease's reservation


def grant(used: int, limit: int, amount: int | None, minimum: int, block: int) -> tuple[int, bool] | None:
    """What a counter grants a lease asking `block` for a call needing `amount` (at least `minimum`): (granted,
    capped), or None when not even `minimum` remains. `amount` None: all that remains. The Lua scripts mirror it."""
    if limit < 0:
        return max(block, amount if amount is not None else minimum), False
    room = limit - used
    if room < minimum:
        return None
    if amount is None or amount > room:
        return room, True
    return min(max(block, amount), max(amount, room // SHARE)), False


@dataclass(frozen=True, slots=True)
class Granted(Generic[H]):
    """A renewal's outcome: the counter's handle on the lease, what it granted, and whether that fell short of the
    call that asked (capped: it is all that remained)."""

    handle: H
    amount: int
    is_capped: bool = False
    used: int = 0  # the counter's `used` right after the grant (budgets report it)


@dataclass(slots=True, eq=False)
class Lease(Generic[K, H]):
    """Reservations of one counter (the first, then top-ups) that this process's calls draw on."""

    key: K
    parts: list[tuple[H, int]]  # the counter's reservations and what each granted, in order
    used_at_grant: int  # the counter's `used` after the latest of them
    sized_for: int  # calls
    opened_at: float
    held: int = 0  # by calls in flight
    spent: int = 0  # by calls that ended
    calls: int = 0  # in flight
    served: int = 0  # admitted in all
    is_open: bool = True  # admits calls
    is_closed: bool = False  # given back to the counter

    @property
    def handle(self) -> H:
        return self.parts[0][0]

    @property
    def granted(self) -> int:
        return sum(amount for _, amount in self.parts)

    @property
    def available(self) -> int:
        return self.granted - self.held - self.spent


@dataclass(slots=True, eq=False)
class Hold(Generic[K, H]):
    """One call's part of a lease; `settle` or `release` it once."""

    lease: Lease[K, H]
    amount: int
    is_capped: bool = False
    is_closed: bool = False

    @property
    def used(self) -> int:
        """The counter's `used` as this process last saw it, this lease counted as far as its calls took it."""
        lease = self.lease
        return lease.used_at_grant - max(lease.available, 0)


@dataclass(slots=True)
class _Key:
    """Per key: the open lease, the renewal in flight, and the size the next lease is asked for."""

    lease: Lease | None = None  # type: ignore[type-arg]
    renewing: asyncio.Future[None] | None = None
    waiting: int = 0  # what calls waiting for the renewal need
    sized_for: int = 1
    is_tight: bool = False  # the last renewal got less than it asked: calls refine their amounts
    retired: set[Lease] = field(default_factory=set)  # type: ignore[type-arg]


class LeasePool(Generic[K, H]):
    """The leases of one kind of counter in this process.

    `renew(key, amount, minimum, block)` reserves from the counter (raising its own refusal when not even `minimum`
    remains); `give_back(handle, granted, spent)` closes one of those reservations at what was spent of it (queued,
    never awaited).
    """

    def __init__(
        self,
        renew: Callable[[K, int | None, int, int], Awaitable[Granted[H]]],
        give_back: Callable[[H, int, int], None],
        *,
        lease_s: float = LEASE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._renew = renew
        self._give_back = give_back
        self._lease_s = lease_s
        self._clock = clock
        self._keys: dict[K, _Key] = {}
        self._timers: dict[Lease[K, H], asyncio.TimerHandle] = {}

    def try_hold(self, key: K, amount: int, refine: Callable[[], int] | None = None) -> Hold[K, H] | None:
        """The call's hold from the open lease, when it has room: no I/O, nothing to wait for."""
        state = self._keys.get(key)
        lease = state.lease if state is not None else None
        if lease is None or state is None:
            return None
        if state.is_tight and refine is not None:
            amount = min(amount, refine())
        return self._take(lease, amount) if lease.available >= amount else None

    def has_room(self, key: K, amount: int) -> bool:
        state = self._keys.get(key)
        return state is not None and state.lease is not None and state.lease.available >= amount

    async def hold(
        self, key: K, amount: int, minimum: int | None = None, refine: Callable[[], int] | None = None
    ) -> Hold[K, H]:
        """The call's hold of `amount` (at least `minimum`: less is granted, capped, when less remains), topping the
        lease up (or opening one) when it lacks room. `refine`: a tighter amount for the call (the tokenizer's count
        instead of a bound), asked only near the limit. Raises what `renew` raises when not even `minimum` remains."""
        minimum = amount if minimum is None else minimum
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _Key()
        while True:
            if state.is_tight and refine is not None:  # near the limit: every call at its tighter amount
                amount = min(amount, refine())
                minimum, refine = min(minimum, amount), None
            lease = state.lease
            if lease is not None and lease.available >= amount:
                return self._take(lease, amount)
            if state.renewing is None:
                return await self._renew_for(key, state, amount, minimum, refine)
            state.waiting += amount
            try:
                await asyncio.shield(state.renewing)
            finally:
                state.waiting -= amount

    def unused(self, key: K) -> int:
        """What this process's leases of `key` hold that no call has taken: reserved in the counter, yet free."""
        state = self._keys.get(key)
        if state is None:
            return 0
        leases = [*state.retired, *((state.lease,) if state.lease is not None else ())]
        return sum(max(lease.available, 0) for lease in leases)

    def held_keys(self) -> list[K]:
        """The keys with leases (or lease sizes) in this process."""
        return list(self._keys)

    def settle(self, hold: Hold[K, H], actual: int | None = None) -> None:
        """The call ended having spent `actual` (None: its hold)."""
        self._end(hold, hold.amount if actual is None else actual)

    def release(self, hold: Hold[K, H]) -> None:
        """The call ended having spent nothing."""
        self._end(hold, 0)

    def retire_all(self) -> None:
        """Retire every open lease: idle ones close now, the others when their last call ends."""
        for state in list(self._keys.values()):
            if state.lease is not None:
                self._retire(state, state.lease)

    def close(self) -> None:
        """Close every lease now (shutdown): calls still in flight are charged their holds."""
        self.retire_all()
        for state in list(self._keys.values()):
            for lease in list(state.retired):
                lease.spent += lease.held
                self._close(state, lease)
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    async def _renew_for(
        self, key: K, state: _Key, amount: int, minimum: int, refine: Callable[[], int] | None
    ) -> Hold[K, H]:
        """A renewal: a top-up of the open lease by what the call lacks (a block at least), or a new lease."""
        lease = state.lease
        has = max(lease.available, 0) if lease is not None else 0
        lacks = amount - has
        sized_for = max(state.sized_for, lease.served if lease is not None else 0)  # a busy lease tops up more
        block = max(sized_for * amount, amount + state.waiting) - has
        done = asyncio.get_running_loop().create_future()
        state.renewing = done
        try:
            granted = await self._renew(key, lacks, max(minimum - has, 1), block)
            state.is_tight = granted.amount < block  # cut to a share of what remains: the limit is near
            if lease is None or not lease.is_open:
                lease = Lease(key, [], granted.used, state.sized_for, self._clock())
                state.lease = lease
                self._timers[lease] = asyncio.get_running_loop().call_later(self._lease_s, self._expire, key, lease)
            lease.parts.append((granted.handle, granted.amount))
            lease.used_at_grant = granted.used
            if granted.is_capped:  # less remained than the call asked: it takes all there is, or its tighter amount
                tighter = refine() if refine is not None else amount
                if tighter <= lease.available:
                    return self._take(lease, tighter)
                hold = self._take(lease, lease.available)
                hold.is_capped = True
                return hold
            return self._take(lease, amount)
        finally:
            state.renewing = None
            done.set_result(None)

    def _take(self, lease: Lease[K, H], amount: int) -> Hold[K, H]:
        lease.held += amount
        lease.calls += 1
        lease.served += 1
        return Hold(lease, amount)

    def _end(self, hold: Hold[K, H], spent: int) -> None:
        lease = hold.lease
        if hold.is_closed or lease.is_closed:  # a lease closed at shutdown charged its calls in flight already
            return
        hold.is_closed = True
        lease.held -= hold.amount
        lease.spent += spent
        lease.calls -= 1
        if not lease.is_open and lease.calls == 0:
            state = self._keys.get(lease.key)
            if state is not None:
                self._close(state, lease)

    def _expire(self, key: K, lease: Lease[K, H]) -> None:
        self._timers.pop(lease, None)
        state = self._keys.get(key)
        if state is not None and state.lease is lease:
            self._retire(state, lease)

    def _retire(self, state: _Key, lease: Lease[K, H]) -> None:
        """No more calls for this lease; the next one is sized by how many it served. Closed now when no call holds
        any of it, else when its last call ends."""
        lease.is_open = False
        if state.lease is lease:
            state.lease = None
        timer = self._timers.pop(lease, None)
        if timer is not None:
            timer.cancel()
        if self._clock() - lease.opened_at < self._lease_s / 2:  # retired early (a flush): its size stands
            pass
        elif lease.served > lease.sized_for:  # outran its size: twice what it served
            state.sized_for = min(MAX_CALLS, lease.served * 2)
        else:  # sized for what it served
            state.sized_for = max(1, lease.served)
        if lease.calls == 0:
            self._close(state, lease)
        else:
            state.retired.add(lease)

    def _close(self, state: _Key, lease: Lease[K, H]) -> None:
        """Give each of its reservations back at what was spent of it: the first ones in full, the rest on the last."""
        lease.is_closed = True
        state.retired.discard(lease)
        idle = state.lease is None and not state.retired and state.renewing is None
        if idle and state.sized_for == 1 and not state.is_tight:
            self._keys.pop(lease.key, None)  # idle at the smallest size: nothing worth keeping
        left = lease.spent
        for number, (handle, amount) in enumerate(lease.parts):
            spent = left if number == len(lease.parts) - 1 else min(left, amount)
            left -= spent
            self._give_back(handle, amount, spent)
