"""Lua scripts on Redis: run by their SHA, loaded again when the server has forgotten them."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.asyncio import Redis


class LuaScript:
    """A Lua script run by its SHA, loaded again if the server forgot it (a restart, SCRIPT FLUSH).

    redis-py's own Script object checks `isinstance(client, Pipeline)` on every call, and Pipeline's typing-protocol
    metaclass made that check 7% of the hosted route's CPU (py-spy, `make bench BENCH_ARGS=--profile`).
    """

    def __init__(self, client: Redis, source: str) -> None:
        from redis.exceptions import NoScriptError  # Redis is imported only when configured

        self._client = client
        self._source = source
        self._sha = hashlib.sha1(source.encode()).hexdigest()
        self._missing = NoScriptError

    async def __call__(self, *, keys: list[str], args: list[Any]) -> Any:
        try:
            return await self._client.evalsha(self._sha, len(keys), *keys, *args)
        except self._missing:
            self._sha = await self._client.script_load(self._source)
            return await self._client.evalsha(self._sha, len(keys), *keys, *args)
