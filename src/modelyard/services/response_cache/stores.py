"""Where cached answers live: Redis when configured (shared by replicas, bounded by its own maxmemory policy), else
this process's memory, bounded in bytes and evicting the least recently used answer first."""

from __future__ import annotations

import base64
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import orjson

from modelyard.services.recorded import StoredAnswer
from modelyard.store.cache import RedisCache


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """An answer from the cache, and when it was stored (Unix time): its age goes out in the `Age` header."""

    answer: StoredAnswer
    stored_at: float

    @property
    def age_s(self) -> int:
        return max(int(time.time() - self.stored_at), 0)


class Answers(Protocol):
    async def get(self, key: str) -> CachedAnswer | None: ...

    async def put(self, key: str, answer: StoredAnswer, ttl_s: int) -> None: ...


class LocalAnswers:
    """In this process: at most `max_bytes` of answers; the least recently used go first, expired ones when met."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.evicted = 0  # answers dropped to stay within the bound, since start-up
        self._clock: Callable[[], float] = time.monotonic  # tests replace it to expire answers
        self._entries: OrderedDict[str, tuple[CachedAnswer, float]] = OrderedDict()  # key -> (answer, expires at)

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> CachedAnswer | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            self._remove(key)
            return None
        self._entries.move_to_end(key)
        return entry[0]

    async def put(self, key: str, answer: StoredAnswer, ttl_s: int) -> None:
        if answer.size > self.max_bytes:
            return
        if key in self._entries:
            self._remove(key)
        self._entries[key] = (CachedAnswer(answer, time.time()), self._clock() + ttl_s)
        self.size += answer.size
        while self.size > self.max_bytes:
            oldest = next(iter(self._entries))
            self._remove(oldest)
            self.evicted += 1

    def _remove(self, key: str) -> None:
        cached, _ = self._entries.pop(key)
        self.size -= cached.answer.size


class RedisAnswers:
    """In Redis, one string per answer with the TTL as its expiry. The client decodes replies as text: the body
    travels as base64 inside a small JSON document."""

    def __init__(self, cache: RedisCache) -> None:
        self._cache = cache

    async def get(self, key: str) -> CachedAnswer | None:
        raw = await self._cache.get(key)
        if raw is None:
            return None
        stored = orjson.loads(raw)
        answer = StoredAnswer(
            stored["status"], tuple((n, v) for n, v in stored["headers"]), base64.b64decode(stored["body"])
        )
        return CachedAnswer(answer, float(stored["stored_at"]))

    async def put(self, key: str, answer: StoredAnswer, ttl_s: int) -> None:
        document = {
            "status": answer.status,
            "headers": answer.headers,
            "body": base64.b64encode(answer.body).decode(),
            "stored_at": time.time(),
        }
        await self._cache.set(key, orjson.dumps(document).decode(), ttl_s=ttl_s)
