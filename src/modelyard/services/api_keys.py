"""Workspace API keys: shown once, stored as a hash, checked from memory on every gateway call, with their policy."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, overload

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from modelyard.errors import ApiKeyExpiredError, CredentialError, InvalidRequestError, NotFoundError
from modelyard.services.governance.policy import NO_POLICY, KeyPolicy, key_policy_from_json, parse_key_policy, to_json
from modelyard.store.cache import Cache
from modelyard.store.tables import Account, ApiKey, Workspace, utcnow
from modelyard.types.value import Value

log = logging.getLogger(__name__)

KEY_PREFIX = "my-"  # lets secret scanners and our own log redaction recognise a key
KEY_PATTERN = re.compile(r"my-[A-Za-z0-9_-]{43}")  # token_urlsafe(32): 256 random bits in 43 characters
KEY_LENGTH = len(KEY_PREFIX) + 43
DISPLAY_CHARS = 12  # the stored `prefix`: "my-" and 9 random characters, enough to tell keys apart
REVOKED_CHANNEL = "api-key-revoked"  # message: the revoked key's hash
CHANGED_CHANNEL = "api-key-changed"  # message: the hash of a key whose name or policy changed

_INVALID = "invalid API key"
_api_keys = ApiKey.metadata.tables[ApiKey.__tablename__]  # the Core table: executemany, not ORM bulk update
# One statement for the whole batch; a replica never moves last_used_at backwards past another's newer time.
_TOUCH = (
    update(_api_keys)
    .where(_api_keys.c.id == bindparam("key_id"))
    .where(or_(_api_keys.c.last_used_at.is_(None), _api_keys.c.last_used_at < bindparam("used_at")))
    .values(last_used_at=bindparam("used_at"))
)


@dataclass(frozen=True, slots=True)
class ApiKeyView:
    """A key as listed: never the key itself, which is shown once, at creation."""

    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    policy: KeyPolicy = NO_POLICY  # its expiry is `policy.expires_at`


class ApiKeyIdentity(Value, frozen=True):
    """Who is calling: what a valid key resolves to, with its policy (None: the key has none)."""

    api_key_id: str
    workspace_id: str
    name: str = ""
    policy: KeyPolicy | None = None

    @property
    def strict_params(self) -> bool:
        """The key's policy makes every call strict about parameters (gateway/parameters.py reads it)."""
        return self.policy is not None and self.policy.strict_params


def hash_key(plaintext: str) -> str:
    # SHA-256, not a password KDF: the key has 256 random bits, so there is nothing to brute-force, and the
    # hash costs about a microsecond, cheap enough for every request (argon2 would cost ~0.2 s).
    return hashlib.sha256(plaintext.encode()).hexdigest()


class ApiKeyService:
    """Create, list, change and revoke a workspace's keys; `authenticate` is the gateway's per-request check.

    `authenticate` answers from an in-process cache, policy included: hits for `CACHE_TTL_S`, misses for
    `MISS_TTL_S`, each table bounded to `CACHE_MAX` entries. Revoking or changing a key drops it here at once and
    on other replicas through the cache's pub/sub; the TTL bounds staleness should a broadcast be lost. Last-used
    times are kept in memory and written in one batch every `FLUSH_INTERVAL_S`, and at `close()`.
    """

    CACHE_TTL_S = 60.0
    MISS_TTL_S = 5.0
    CACHE_MAX = 10_000
    FLUSH_INTERVAL_S = 30.0

    def __init__(self, db: async_sessionmaker[AsyncSession], cache: Cache) -> None:
        self._db = db
        self._cache = cache
        self._clock: Callable[[], float] = time.monotonic  # tests replace it to expire entries
        self._known: dict[str, tuple[ApiKeyIdentity, float]] = {}  # key hash -> (identity, expires at)
        self._unknown: dict[str, float] = {}  # key hash -> expires at; kept apart so bad keys never evict good
        self._lookups: dict[str, asyncio.Future[ApiKeyIdentity | None]] = {}  # one database read per cold key
        self._revocations = 0  # bumped by every revocation: a read that started before one is not cached
        self._last_used: dict[str, float] = {}  # key id -> wall-clock time, waiting for the next flush
        self._flusher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._cache.subscribe(self._on_broadcast)
        self._flusher = asyncio.create_task(self._flush_periodically(), name="modelyard-api-key-last-used")

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        try:
            await self.flush_last_used()
        except Exception:  # last-used times are a convenience: losing them must not stop a shutdown
            log.warning("could not record API key last-used times at shutdown", exc_info=True)

    async def create(
        self,
        *,
        workspace_id: str,
        name: str,
        created_by: str | None = None,
        policy: Mapping[str, object] | None = None,
    ) -> tuple[ApiKeyView, str]:
        """A new key and its plaintext: the only time the plaintext is available.

        The name is required: it is all a list shows to tell keys apart before one is revoked. `policy` sets any of
        the fields of `KeyPolicy` (allowed_models, expires_at, requests_per_minute, tokens_per_minute,
        max_concurrent_requests, budget, strict_params); each is optional.
        """
        name = _valid_name(name)
        key_policy = parse_key_policy(policy or {})
        plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
        async with self._db.begin() as session:
            if await session.get(Workspace, workspace_id) is None:
                raise NotFoundError(f"workspace {workspace_id!r} does not exist")
            if created_by is not None and await session.get(Account, created_by) is None:
                raise NotFoundError(f"account {created_by!r} does not exist")
            row = ApiKey(
                workspace_id=workspace_id,
                name=name,
                prefix=plaintext[:DISPLAY_CHARS],
                key_hash=hash_key(plaintext),
                created_by=created_by,
                expires_at=key_policy.expires_at,
                policy=to_json(key_policy),
            )
            session.add(row)
        return self._view(row), plaintext

    async def update(
        self,
        *,
        workspace_id: str,
        key_id: str,
        name: str | None = None,
        policy: Mapping[str, object] | None = None,
    ) -> ApiKeyView:
        """Rename a key or change its policy: the fields `policy` names change (None clears one), the others stay.
        Gateway calls see the change at once here and on every replica."""
        async with self._db.begin() as session:
            row = await _key(session, workspace_id, key_id)
            if name is not None:
                row.name = _valid_name(name)
            if policy:
                current = key_policy_from_json(row.policy, expires_at=row.expires_at)
                changed = parse_key_policy(policy, base=current)
                row.policy, row.expires_at = to_json(changed), changed.expires_at
        await self._changed(row.key_hash, key_id)
        return self._view(row)

    async def get(self, *, workspace_id: str, key_id: str) -> ApiKeyView:
        async with self._db() as session:
            return self._view(await _key(session, workspace_id, key_id))

    async def identity(self, *, workspace_id: str, key_id: str) -> ApiKeyIdentity:
        """A key's identity read from the database, for callers that have its id rather than the key (the gateway
        authenticates and has it from memory)."""
        async with self._db() as session:
            row = await _key(session, workspace_id, key_id)
        return _identity(row.id, row.workspace_id, row.name, row.policy, row.expires_at)

    async def revoke(self, *, workspace_id: str, key_id: str) -> ApiKeyView:
        """Revoke a key, here at once and on every replica; revoking a revoked key changes nothing."""
        async with self._db.begin() as session:
            row = await _key(session, workspace_id, key_id)
            if row.revoked_at is None:
                row.revoked_at = utcnow()
        self._forget(row.key_hash)
        try:
            await self._cache.publish(REVOKED_CHANNEL, row.key_hash)
        except Exception:  # the revocation is stored; other replicas drop their copy when its TTL ends
            log.warning("could not broadcast the revocation of API key %s", key_id, exc_info=True)
        return self._view(row)

    async def _changed(self, key_hash: str, key_id: str) -> None:
        self._forget(key_hash)
        try:
            await self._cache.publish(CHANGED_CHANNEL, key_hash)
        except Exception:  # stored; other replicas read the key again when their copy's TTL ends
            log.warning("could not broadcast the change of API key %s", key_id, exc_info=True)

    async def authenticate(self, plaintext: str) -> ApiKeyIdentity:
        """The workspace a key belongs to, and its policy; CredentialError for a key that is unknown, malformed or
        revoked, ApiKeyExpiredError for one past its expiry."""
        if len(plaintext) != KEY_LENGTH or not plaintext.startswith(KEY_PREFIX):
            raise CredentialError(_INVALID)
        key_hash = hash_key(plaintext)
        now = self._clock()
        known = self._known.get(key_hash)
        if known is not None and known[1] > now:
            identity = known[0]
        elif self._unknown.get(key_hash, 0.0) > now:
            raise CredentialError(_INVALID)
        else:
            found = await self._look_up(key_hash)
            if found is None:
                raise CredentialError(_INVALID)
            identity = found
        wall = time.time()
        policy = identity.policy
        if policy is not None and policy.expires_at is not None and policy.expires_at.timestamp() <= wall:
            raise ApiKeyExpiredError(
                f"API key {identity.name!r} expired at {policy.expires_at:%Y-%m-%d %H:%M:%S} UTC; ask an admin to "
                "extend its expiry, or use another key"
            )
        self._last_used[identity.api_key_id] = wall
        return identity

    async def flush_last_used(self) -> None:
        """Write the last-used times gathered since the previous flush, in one batched UPDATE."""
        if not self._last_used:
            return
        batch, self._last_used = self._last_used, {}
        params = [{"key_id": key_id, "used_at": datetime.fromtimestamp(t, UTC)} for key_id, t in batch.items()]
        try:
            async with self._db.begin() as session:
                await session.execute(_TOUCH, params)
        except BaseException:
            for key_id, t in batch.items():  # keep them for the next try, unless a newer use came in meanwhile
                self._last_used[key_id] = max(t, self._last_used.get(key_id, t))
            raise

    async def list(self, *, workspace_id: str) -> list[ApiKeyView]:
        query = select(ApiKey).where(ApiKey.workspace_id == workspace_id).order_by(ApiKey.created_at, ApiKey.id)
        async with self._db() as session:
            return [self._view(row) for row in (await session.scalars(query)).all()]

    def _view(self, row: ApiKey) -> ApiKeyView:
        last_used = _utc(row.last_used_at)
        pending = self._last_used.get(row.id)  # used on this replica since the last flush
        if pending is not None:
            last_used = datetime.fromtimestamp(pending, UTC)
        policy = key_policy_from_json(row.policy, expires_at=_utc(row.expires_at))
        return ApiKeyView(row.id, row.name, row.prefix, _utc(row.created_at), last_used, _utc(row.revoked_at), policy)

    async def _look_up(self, key_hash: str) -> ApiKeyIdentity | None:
        """Read one key from the database, once however many callers present it at the same moment."""
        lookup = self._lookups.get(key_hash)
        if lookup is None:
            lookup = asyncio.ensure_future(self._read(key_hash))
            self._lookups[key_hash] = lookup
            lookup.add_done_callback(lambda _: self._lookups.pop(key_hash, None))
        return await asyncio.shield(lookup)  # one caller giving up does not cancel the read for the others

    async def _read(self, key_hash: str) -> ApiKeyIdentity | None:
        revocations = self._revocations
        query = select(ApiKey.id, ApiKey.workspace_id, ApiKey.name, ApiKey.policy, ApiKey.expires_at).where(
            ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None)
        )
        async with self._db() as session:
            row = (await session.execute(query)).first()
        identity = _identity(*row) if row is not None else None
        if revocations == self._revocations:  # else a revocation may have landed after our read: do not cache
            now = self._clock()
            if identity is not None:
                _remember(self._known, key_hash, (identity, now + self.CACHE_TTL_S), self.CACHE_MAX)
            else:
                _remember(self._unknown, key_hash, now + self.MISS_TTL_S, self.CACHE_MAX)
        return identity

    def _forget(self, key_hash: str) -> None:
        self._revocations += 1
        self._known.pop(key_hash, None)

    async def _on_broadcast(self, channel: str, message: str) -> None:
        if channel in (REVOKED_CHANNEL, CHANGED_CHANNEL):
            self._forget(message)

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.FLUSH_INTERVAL_S)
            try:
                await self.flush_last_used()
            except Exception:  # the times stay queued; the next round tries again
                log.warning("could not record API key last-used times", exc_info=True)


def _valid_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidRequestError("a key name is required", field="name")
    if len(name) > 120:
        raise InvalidRequestError("a key name is at most 120 characters", field="name")
    return name


def _identity(key_id: str, workspace_id: str, name: str, policy: str | None, expires_at: Any) -> ApiKeyIdentity:
    parsed = key_policy_from_json(policy, expires_at=expires_at)
    return ApiKeyIdentity(key_id, workspace_id, name, None if parsed.is_empty else parsed)


_Entry = TypeVar("_Entry")


def _remember(table: dict[str, _Entry], key: str, entry: _Entry, limit: int) -> None:
    """Insert at the end, evicting from the front: one TTL per table, so the front is what expires first."""
    table.pop(key, None)
    while table and len(table) >= limit:
        del table[next(iter(table))]
    table[key] = entry


@overload
def _utc(moment: datetime) -> datetime: ...
@overload
def _utc(moment: None) -> None: ...
def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment  # SQLite: no zone


async def _key(session: AsyncSession, workspace_id: str, key_id: str) -> ApiKey:
    row = await session.get(ApiKey, key_id)
    if row is None or row.workspace_id != workspace_id:  # another workspace's key reads as absent
        raise NotFoundError(f"API key {key_id!r} does not exist")
    return row
