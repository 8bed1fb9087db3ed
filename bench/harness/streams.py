"""Memory with many streams open: open N chat streams through a target to the slow upstream, hold them, read RSS."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

from harness import wire
from harness.processes import rss_kib


@dataclass(frozen=True)
class StreamsResult:
    wanted: int
    opened: int  # streams whose first chunk arrived
    failed: int
    open_s: float  # until the last stream opened (or the deadline)
    rss_kib: int  # the target's peak RSS while they were open
    first_error: str | None


async def _hold(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], opened: asyncio.Event
) -> None:
    async with session.post(url, data=body, headers=headers) as response:
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {(await response.read())[:200]!r}")
        await response.content.readany()  # the first bytes: the stream is open end to end
        opened.set()
        while await response.content.readany():  # keep draining, as a client would, until cancelled
            pass
        raise RuntimeError("the stream ended before it was released")


async def hold_streams(
    url: str,
    extra_headers: Mapping[str, str],
    model: str,
    *,
    count: int,
    pid: int,
    open_timeout_s: float,
    settle_s: float = 2.0,
) -> StreamsResult:
    body = wire.compact(wire.chat_request(model, stream=True)).encode()
    headers = {"Content-Type": "application/json", **extra_headers}
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=open_timeout_s)
    started = time.monotonic()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        events = [asyncio.Event() for _ in range(count)]
        tasks = [asyncio.create_task(_hold(session, url, body, headers, event)) for event in events]
        try:
            deadline = started + open_timeout_s
            while time.monotonic() < deadline:
                opened = sum(e.is_set() for e in events)
                if opened + sum(t.done() for t in tasks) >= count:
                    break
                await asyncio.sleep(0.1)
            open_s = time.monotonic() - started
            await asyncio.sleep(settle_s)
            peak = 0
            for _ in range(5):
                peak = max(peak, rss_kib(pid))
                await asyncio.sleep(0.2)
            opened = sum(e.is_set() for e in events)
        finally:
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)]
    first_error = f"{type(errors[0]).__name__}: {errors[0]}" if errors else None
    return StreamsResult(count, opened, len(errors), open_s, peak, first_error)


def measure_streams(
    url: str, headers: Mapping[str, str], model: str, *, count: int, pid: int, open_timeout_s: float
) -> StreamsResult:
    held = hold_streams(url, headers, model, count=count, pid=pid, open_timeout_s=open_timeout_s)
    with contextlib.suppress(ImportError):
        import uvloop

        return uvloop.run(held)
    return asyncio.run(held)
