"""Serving a fake upstream on a loopback port for the length of a block."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from aiohttp.test_utils import TestServer

Upstream = TypeVar("Upstream", bound=Any)  # anything with an aiohttp `app` and a writable `url`


@asynccontextmanager
async def served(upstream: Upstream) -> AsyncIterator[Upstream]:
    """`upstream` listening on 127.0.0.1 (its `url` set to where) until the block ends."""
    server = TestServer(upstream.app, host="127.0.0.1")
    await server.start_server()
    upstream.url = str(server.make_url("")).rstrip("/")
    try:
        yield upstream
    finally:
        await server.close()
