"""What answers say about limits: OpenAI's `x-ratelimit-*` headers, and the budget's remaining amount.

OpenAI documents (platform.openai.com/docs/guides/rate-limits, "Rate limits in headers", seen 2026-12):
`x-ratelimit-limit-requests`, `-remaining-requests`, `-reset-requests` ("the time until the rate limit resets to its
initial state", written like Go durations: `1s`, `6m0s`, `120ms`), and the same three for tokens. Where both the key
and its workspace limit a kind, the level with the least remaining is the one reported.
"""

from __future__ import annotations

from collections.abc import Iterable

from modelyard.services.governance.plan import RateReading


def duration(ms: int) -> str:
    """`ms` as OpenAI writes it: `0s`, `20ms`, `1s`, `1.5s`, `6m0s`, `1h2m3.5s`."""
    if ms <= 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    if hours:
        return f"{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{minutes}m{seconds}s"
    return f"{seconds}s"


def rate_limit_headers(readings: Iterable[RateReading]) -> list[tuple[bytes, bytes]]:
    tightest: dict[str, RateReading] = {}
    for reading in readings:
        kind = reading.check.kind
        if kind not in tightest or reading.remaining < tightest[kind].remaining:
            tightest[kind] = reading
    headers = []
    for kind in ("requests", "tokens"):
        found = tightest.get(kind)
        if found is not None:
            headers += [
                (f"x-ratelimit-limit-{kind}".encode(), str(found.check.capacity).encode()),
                (f"x-ratelimit-remaining-{kind}".encode(), str(found.remaining).encode()),
                (f"x-ratelimit-reset-{kind}".encode(), duration(found.reset_ms).encode()),
            ]
    return headers
