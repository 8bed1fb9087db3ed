"""The exact response cache: a workspace's identical calls answered from a stored answer, without the upstream.

A call is identical when its workspace, route, resolved model (`provider/model`, whatever name it was asked by) and
normalised body are (gateway/cache.py normalises). Answers are stored under a key that starts with the workspace id
and hashes the rest, so one workspace can never be served another's. Only whole 200 answers up to
MAX_ENTRY_BYTES are kept. The cache never fails a call: a store that cannot be read or written is a miss.
"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from modelyard.services.recorded import StoredAnswer
from modelyard.services.response_cache.settings import CacheSettings
from modelyard.services.response_cache.stores import Answers, CachedAnswer, LocalAnswers, RedisAnswers
from modelyard.store.cache import Cache, RedisCache

log = logging.getLogger(__name__)
KEY_PREFIX = "modelyard:response-cache:"
MAX_ENTRY_BYTES = 4 * 1024 * 1024  # a long answer with its stream events is well under this; an audio file is not


class ResponseCache:
    """Answers by key, and each workspace's opt-in (`settings`)."""

    def __init__(self, answers: Answers, settings: CacheSettings, *, max_entry_bytes: int = MAX_ENTRY_BYTES) -> None:
        self.answers = answers
        self.settings = settings
        self.max_entry_bytes = max_entry_bytes

    @classmethod
    def create(
        cls, db: async_sessionmaker[AsyncSession], cache: Cache, *, capacity: int, max_bytes: int
    ) -> ResponseCache:
        """Redis when the deployment has it, else this process's memory bounded to `max_bytes`."""
        answers: Answers = RedisAnswers(cache) if isinstance(cache, RedisCache) else LocalAnswers(max_bytes)
        return cls(
            answers, CacheSettings(db, cache, capacity=capacity), max_entry_bytes=min(MAX_ENTRY_BYTES, max_bytes)
        )

    @staticmethod
    def key(workspace_id: str, route: str, model: str, normalised_body: bytes) -> str:
        digest = hashlib.sha256(f"{route}\n{model}\n".encode())
        digest.update(normalised_body)
        return f"{KEY_PREFIX}{workspace_id}:{digest.hexdigest()}"

    async def get(self, key: str) -> CachedAnswer | None:
        try:
            return await self.answers.get(key)
        except Exception as exc:  # a cache that cannot answer is a miss, never a failed call
            log.warning("could not read the response cache (%s); answering without it", type(exc).__name__)
            return None

    async def put(self, key: str, answer: StoredAnswer, ttl_s: int) -> bool:
        """Keep a whole 200 answer for `ttl_s` seconds; True if kept."""
        if answer.status != 200 or ttl_s <= 0 or answer.size > self.max_entry_bytes:
            return False
        try:
            await self.answers.put(key, answer, ttl_s)
        except Exception as exc:
            log.warning("could not write to the response cache (%s)", type(exc).__name__)
            return False
        return True
