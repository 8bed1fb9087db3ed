"""Stored `/v1/responses` answers (`store: true`): kept per workspace for RETENTION_S so `previous_response_id`
continues a conversation and `GET` / `DELETE /v1/responses/{id}` work.

Saving never waits on the database: a response is held in this process's memory (and, with Redis, in the shared
cache, so another replica continues it at once) and written in batches by a background task, like usage. Reads look
in memory, then the shared cache, then the database, and always match the workspace: another workspace's id is
simply not found. Expired rows are deleted in the background, a batch at a time. Nothing stored is a credential:
only what the caller sent as input and what the model answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from datetime import datetime, timedelta

import orjson
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from modelyard.store.cache import Cache
from modelyard.store.tables import StoredResponse, utcnow
from modelyard.types.value import Value

log = logging.getLogger(__name__)

RETENTION_S = 30 * 24 * 3600  # as long as OpenAI keeps stored responses (30 days)
FLUSH_INTERVAL_S = 0.5
BATCH_SIZE = 100
PRUNE_INTERVAL_S = 300.0
PRUNE_BATCH = 500
SHARED_TTL_S = 600.0  # how long the shared cache holds a response that may not be written yet (and a deletion)
# Past either bound (the database is unreachable), the oldest unwritten responses are dropped: a conversation with
# inline images is megabytes, so the count alone would not bound the memory.
MAX_PENDING = 10_000
MAX_PENDING_BYTES = 256 * 1024 * 1024


class ResponseRecord(Value, frozen=True):
    id: str
    workspace_id: str
    model: str  # provider/model
    response: bytes  # the response object, JSON
    conversation: bytes  # the items a continuation starts from, JSON
    created_at: datetime
    expires_at: datetime


class ResponseStore:
    def __init__(
        self,
        engine: AsyncEngine,
        cache: Cache,
        *,
        retention_s: float = RETENTION_S,
        interval_s: float = FLUSH_INTERVAL_S,
        prune_interval_s: float = PRUNE_INTERVAL_S,
    ) -> None:
        self._engine = engine
        self._cache = cache
        self.retention_s = retention_s
        self._interval_s = interval_s
        self._prune_interval_s = prune_interval_s
        self._pending: dict[str, ResponseRecord] = {}  # saved, not written yet; readable at once
        self._pending_bytes = 0
        self._queue: deque[str] = deque()
        self._wake = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def record(
        self, *, response_id: str, workspace_id: str, model: str, response: bytes, conversation: bytes
    ) -> ResponseRecord:
        now = utcnow()
        return ResponseRecord(
            response_id, workspace_id, model, response, conversation, now, now + timedelta(seconds=self.retention_s)
        )

    async def save(self, record: ResponseRecord) -> None:
        """Keep `record`; readable at once, written to the database off the hot path."""
        while self._queue and (len(self._queue) >= MAX_PENDING or self._pending_bytes >= MAX_PENDING_BYTES):
            self._forget(self._queue.popleft())
            log.warning("stored-response queue full (database unreachable?): dropped the oldest unwritten one")
        self._pending[record.id] = record
        self._pending_bytes += _size(record)
        self._queue.append(record.id)
        if len(self._queue) >= BATCH_SIZE:
            self._wake.set()
        if self._cache.is_shared:  # other replicas must see it before the caller's next request reaches them
            await self._cache.set(_key(record.workspace_id, record.id), _encode(record), ttl_s=SHARED_TTL_S)

    async def get(self, *, workspace_id: str, response_id: str) -> ResponseRecord | None:
        shared = self._cache.is_shared
        if shared and await self._cache.get(_deleted_key(workspace_id, response_id)) is not None:
            return None  # deleted on another replica, perhaps before this one wrote it
        record = self._pending.get(response_id)
        if record is None and shared:
            cached = await self._cache.get(_key(workspace_id, response_id))
            record = _decode(cached) if cached is not None else None
        if record is None:
            query = select(*StoredResponse.__table__.columns).where(StoredResponse.id == response_id)
            async with self._engine.connect() as connection:
                row = (await connection.execute(query)).first()
            record = ResponseRecord(**row._asdict()) if row is not None else None
        if record is None or record.workspace_id != workspace_id or record.expires_at <= utcnow():
            return None
        return record

    async def delete(self, *, workspace_id: str, response_id: str) -> bool:
        """Forget a response of this workspace; False when there was none to forget."""
        found = await self.get(workspace_id=workspace_id, response_id=response_id) is not None
        if not found:
            return False
        self._forget(response_id)  # its queue entry is skipped when the writer reaches it
        if self._cache.is_shared:  # a replica that has it unwritten must not write it after this
            await self._cache.set(_deleted_key(workspace_id, response_id), "1", ttl_s=SHARED_TTL_S)
            await self._cache.delete(_key(workspace_id, response_id))
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(StoredResponse).where(
                    StoredResponse.id == response_id, StoredResponse.workspace_id == workspace_id
                )
            )
        return True

    # --- the background writer ------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._run(), name="modelyard-response-writer")

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        if not await self.flush():
            log.error("%d stored responses could not be written before shutdown and are lost", len(self._pending))

    async def _run(self) -> None:
        delay = self._interval_s
        loop = asyncio.get_running_loop()
        next_prune = loop.time()
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()
            if self._closing:
                return
            written = await self.flush()
            delay = self._interval_s if written else min(delay * 2, 30.0)
            if written and loop.time() >= next_prune:
                next_prune = loop.time() + self._prune_interval_s
                try:
                    await self.prune()
                except Exception as exc:  # the next round tries again
                    log.warning("could not prune expired stored responses (%s)", type(exc).__name__)

    async def flush(self) -> bool:
        """Write what is waiting; True when all of it was written (else it stays for the next round)."""
        async with self._write_lock:
            while self._queue:
                ids = [self._queue.popleft() for _ in range(min(BATCH_SIZE, len(self._queue)))]
                batch = []
                for record in (self._pending[i] for i in ids if i in self._pending):
                    if await self._deleted_meanwhile(record):
                        self._forget(record.id)
                    else:
                        batch.append(record)
                try:
                    await self._insert(batch)
                except Exception as exc:
                    log.warning("could not write %d stored responses (%s); will retry", len(batch), type(exc).__name__)
                    self._queue.extendleft(reversed(ids))
                    return False
                for record in batch:
                    if self._pending.get(record.id) is record:
                        self._forget(record.id)
            return True

    def _forget(self, response_id: str) -> None:
        record = self._pending.pop(response_id, None)
        if record is not None:
            self._pending_bytes -= _size(record)

    async def _deleted_meanwhile(self, record: ResponseRecord) -> bool:
        if not self._cache.is_shared:
            return False  # a deletion in this process already took it out of `_pending`
        return await self._cache.get(_deleted_key(record.workspace_id, record.id)) is not None

    async def _insert(self, batch: list[ResponseRecord]) -> None:
        if not batch:
            return
        rows = [_row(record) for record in batch]
        try:
            async with self._engine.begin() as connection:
                await connection.execute(insert(StoredResponse), rows)
        except IntegrityError:
            # One row was refused (its workspace was deleted meanwhile): write the others one by one.
            for row in rows:
                with contextlib.suppress(IntegrityError):
                    async with self._engine.begin() as connection:
                        await connection.execute(insert(StoredResponse), [row])

    async def prune(self) -> int:
        """Delete expired responses, PRUNE_BATCH at a time so no statement holds the table long; returns how many."""
        total = 0
        while True:
            async with self._engine.begin() as connection:
                expired = (
                    select(StoredResponse.id).where(StoredResponse.expires_at <= utcnow()).limit(PRUNE_BATCH)
                ).scalar_subquery()
                result = await connection.execute(delete(StoredResponse).where(StoredResponse.id.in_(expired)))
            deleted = int(getattr(result, "rowcount", 0) or 0)
            total += deleted
            if deleted < PRUNE_BATCH:
                return total
            await asyncio.sleep(0)  # let the requests of this process run between batches


def _size(record: ResponseRecord) -> int:
    return len(record.response) + len(record.conversation)


def _row(record: ResponseRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in record.__struct_fields__}


def _key(workspace_id: str, response_id: str) -> str:
    return f"modelyard:response:{workspace_id}:{response_id}"


def _deleted_key(workspace_id: str, response_id: str) -> str:
    return f"modelyard:response-deleted:{workspace_id}:{response_id}"


def _encode(record: ResponseRecord) -> str:
    return orjson.dumps(
        {
            "id": record.id,
            "workspace_id": record.workspace_id,
            "model": record.model,
            "response": record.response.decode(),
            "conversation": record.conversation.decode(),
            "created_at": record.created_at.isoformat(),
            "expires_at": record.expires_at.isoformat(),
        }
    ).decode()


def _decode(raw: str) -> ResponseRecord:
    data = orjson.loads(raw)
    return ResponseRecord(
        data["id"],
        data["workspace_id"],
        data["model"],
        data["response"].encode(),
        data["conversation"].encode(),
        datetime.fromisoformat(data["created_at"]),
        datetime.fromisoformat(data["expires_at"]),
    )
