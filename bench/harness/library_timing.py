"""Shared by the library benchmarks (runs in any venv: the standard library only).

Calls alternate in blocks between the raw client and the library, so drift in the machine's load hits both.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable

Call = Callable[[], Awaitable[object]]


async def compare(calls: dict[str, Call], *, count: int, warmup: int, block: int = 50) -> dict[str, dict[str, float]]:
    for call in calls.values():
        for _ in range(warmup):
            await call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    while min(len(s) for s in samples.values()) < count:
        for name, call in calls.items():
            for _ in range(block):
                started = time.perf_counter()
                await call()
                samples[name].append((time.perf_counter() - started) * 1e6)
    return {name: summary(values[:count]) for name, values in samples.items()}


def summary(values_us: list[float]) -> dict[str, float]:
    ordered = sorted(values_us)
    return {
        "calls": len(ordered),
        "mean_us": statistics.fmean(ordered),
        "p50_us": ordered[len(ordered) // 2],
        "p99_us": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    }
