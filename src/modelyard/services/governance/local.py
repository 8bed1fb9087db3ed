"""Rate buckets and concurrency slots in this process's memory, for a deployment without Redis.

Each replica counts only its own calls, so N replicas allow up to N times a limit; with Redis the same checks are
shared (`redis_admission`). The checks and their effects run without an await between them: atomic on the loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

from modelyard.services.governance.plan import RateCheck, RateReading, Refusal, SlotCheck
from modelyard.services.lru import LRU

BUCKETS = 100_000  # buckets kept; one that falls out is full again when next used, which only forgives


class LocalLimiter:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: LRU[tuple[str, str, str], list[float]] = LRU(BUCKETS)  # (level, scope, kind) -> [tokens, ms]
        self._slots: dict[tuple[str, str], set[str]] = {}

    def admit(
        self, call_id: str, rates: Iterable[RateCheck], slots: Iterable[SlotCheck]
    ) -> tuple[list[RateReading], Refusal | None]:
        """Take what the call needs from every bucket and a slot of every scope, or nothing and the first refusal."""
        now = self._clock() * 1000
        rates, slots = tuple(rates), tuple(slots)
        levels = [(check, self._level(check, now)) for check in rates]
        readings = [_reading(check, tokens) for check, tokens in levels]
        for check, tokens in levels:
            if check.cost > check.capacity:
                return readings, Refusal(check, None, readings=tuple(readings))
            if tokens < check.cost:
                return readings, Refusal(
                    check, math.ceil((check.cost - tokens) / check.per_ms), readings=tuple(readings)
                )
        for slot in slots:
            if len(self._slots.get((slot.level, slot.scope), ())) >= slot.limit:
                return readings, Refusal(slot, 1000, readings=tuple(readings))
        taken = []
        for check, tokens in levels:
            left = tokens - check.cost
            self._buckets[(check.level, check.scope, check.kind)] = [left, now]
            taken.append(_reading(check, left))
        for slot in slots:
            self._slots.setdefault((slot.level, slot.scope), set()).add(call_id)
        return taken, None

    def finish(self, call_id: str, refunds: Iterable[tuple[RateCheck, int]], slots: Iterable[SlotCheck]) -> None:
        """Free the call's slots; give back (or, when negative, take) what its bucket charge misjudged."""
        now = self._clock() * 1000
        for check, refund in refunds:
            if refund:
                tokens = self._level(check, now)
                self._buckets[(check.level, check.scope, check.kind)] = [min(tokens + refund, check.capacity), now]
        for slot in slots:
            held = self._slots.get((slot.level, slot.scope))
            if held is not None:
                held.discard(call_id)
                if not held:
                    del self._slots[(slot.level, slot.scope)]

    def _level(self, check: RateCheck, now: float) -> float:
        state = self._buckets.get((check.level, check.scope, check.kind))
        if state is None:
            return float(check.capacity)
        tokens, at = state
        return min(float(check.capacity), tokens + (now - at) * check.per_ms)


def _reading(check: RateCheck, tokens: float) -> RateReading:
    reset_ms = math.ceil((check.capacity - tokens) / check.per_ms) if tokens < check.capacity else 0
    return RateReading(check, max(math.floor(tokens), 0), reset_ms)
