"""Console sign-ins: server-side sessions (cookie) and personal access tokens (bearer), both stored hashed.

A session or token is random (`secrets.token_urlsafe(32)`, 256 bits); the database keeps only its SHA-256, so a
copy of the database opens nothing. Lookups are cached in-process for `CACHE_TTL_S`; signing out or revoking
drops the entry here at once and on other replicas through `services.cache` pub/sub.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from sqlalchemy import delete, select, update

from modelyard.errors import InvalidRequestError
from modelyard.store.tables import AccessToken, Account, ConsoleSession, utcnow

if TYPE_CHECKING:
    from modelyard.services.accounts import AccountView
    from modelyard.services.context import Services

log = logging.getLogger(__name__)

TOKEN_PREFIX = "mypat-"  # lets secret scanners recognise a personal access token
REVOKED_CHANNEL = "console-sign-in-revoked"  # message: the revoked token's hash

Kind = Literal["session", "token"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling the console: the account, and how it signed in."""

    account_id: str
    email: str
    name: str
    kind: Kind
    token_hash: str
    csrf_token: str | None  # sessions only: a bearer token needs no CSRF header


def hash_token(token: str) -> str:
    # SHA-256, not a password KDF: the token has 256 random bits, so there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


class SignIns:
    """Opens, finds and ends sessions and access tokens."""

    SESSION_TTL = timedelta(days=7)
    # A session is extended when it has less than this left: at most one write a day per session, not one a request.
    SLIDE_BELOW = timedelta(days=6)
    CACHE_TTL_S = 30.0
    CACHE_MAX = 10_000

    def __init__(self, services: Services) -> None:
        self._services = services
        self._clock: Callable[[], float] = time.monotonic
        self._cache: dict[str, tuple[Principal, float]] = {}  # token hash -> (principal, expires at)
        self._revocations = 0  # bumped by each revocation: a read that began before one is not cached
        services.cache.subscribe(self._on_broadcast)

    async def open_session(self, account: AccountView) -> tuple[str, Principal]:
        """A new session for a signed-in account: the cookie value, and who it is."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = utcnow()
        async with self._services.db.begin() as session:
            await session.execute(  # the account's expired sessions go when it opens a new one
                delete(ConsoleSession).where(ConsoleSession.account_id == account.id, ConsoleSession.expires_at < now)
            )
            session.add(
                ConsoleSession(
                    token_hash=hash_token(token),
                    account_id=account.id,
                    csrf_token=csrf,
                    expires_at=now + self.SESSION_TTL,
                )
            )
        return token, Principal(account.id, account.email, account.name, "session", hash_token(token), csrf)

    async def issue_token(self, account: AccountView, *, name: str = "") -> str:
        name = name.strip()
        if len(name) > 120:
            raise InvalidRequestError("a token name is at most 120 characters", field="name")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        async with self._services.db.begin() as session:
            session.add(AccessToken(account_id=account.id, name=name, token_hash=hash_token(token)))
        return token

    async def find(self, token: str, kind: Kind) -> Principal | None:
        """The principal a cookie or bearer token stands for, or None when it is unknown, expired or revoked."""
        if not token or len(token) > 128 or (kind == "token") != token.startswith(TOKEN_PREFIX):
            return None
        token_hash = hash_token(token)
        cached = self._cache.get(token_hash)
        if cached is not None and cached[1] > self._clock() and cached[0].kind == kind:
            return cached[0]
        revocations = self._revocations
        principal = await (self._read_session(token_hash) if kind == "session" else self._read_token(token_hash))
        if principal is not None and revocations == self._revocations:
            self._remember(token_hash, principal)
        return principal

    async def end(self, principal: Principal) -> None:
        """Sign out a session, or revoke an access token: refused from now on, here and on other replicas."""
        async with self._services.db.begin() as session:
            table = ConsoleSession if principal.kind == "session" else AccessToken
            await session.execute(delete(table).where(table.token_hash == principal.token_hash))
        await self._forget_everywhere(principal.token_hash)

    async def end_all(self, account_id: str) -> None:
        """End every session and token of an account (after a password change, say)."""
        async with self._services.db.begin() as session:
            hashes = [
                *(
                    await session.scalars(
                        select(ConsoleSession.token_hash).where(ConsoleSession.account_id == account_id)
                    )
                ),
                *(await session.scalars(select(AccessToken.token_hash).where(AccessToken.account_id == account_id))),
            ]
            await session.execute(delete(ConsoleSession).where(ConsoleSession.account_id == account_id))
            await session.execute(delete(AccessToken).where(AccessToken.account_id == account_id))
        for token_hash in hashes:
            await self._forget_everywhere(token_hash)

    async def _read_session(self, token_hash: str) -> Principal | None:
        now = utcnow()
        query = (
            select(ConsoleSession.csrf_token, ConsoleSession.expires_at, Account.id, Account.email, Account.name)
            .join(Account, Account.id == ConsoleSession.account_id)
            .where(ConsoleSession.token_hash == token_hash, Account.is_active.is_(True))
        )
        async with self._services.db() as session:
            row = (await session.execute(query)).first()
        if row is None or _utc(row.expires_at) <= now:
            return None
        if _utc(row.expires_at) - now < self.SLIDE_BELOW:
            async with self._services.db.begin() as session:
                await session.execute(
                    update(ConsoleSession)
                    .where(ConsoleSession.token_hash == token_hash)
                    .values(expires_at=now + self.SESSION_TTL)
                )
        return Principal(row.id, row.email, row.name, "session", token_hash, row.csrf_token)

    async def _read_token(self, token_hash: str) -> Principal | None:
        query = (
            select(Account.id, Account.email, Account.name)
            .join(AccessToken, AccessToken.account_id == Account.id)
            .where(AccessToken.token_hash == token_hash, Account.is_active.is_(True))
        )
        async with self._services.db() as session:
            row = (await session.execute(query)).first()
        return None if row is None else Principal(row.id, row.email, row.name, "token", token_hash, None)

    def _remember(self, token_hash: str, principal: Principal) -> None:
        self._cache.pop(token_hash, None)
        while len(self._cache) >= self.CACHE_MAX:  # insertion order is expiry order: one TTL for all
            del self._cache[next(iter(self._cache))]
        self._cache[token_hash] = (principal, self._clock() + self.CACHE_TTL_S)

    def _forget(self, token_hash: str) -> None:
        self._revocations += 1
        self._cache.pop(token_hash, None)

    async def _forget_everywhere(self, token_hash: str) -> None:
        self._forget(token_hash)
        try:
            await self._services.cache.publish(REVOKED_CHANNEL, token_hash)
        except Exception:  # the row is gone; other replicas drop their copy when its TTL ends
            log.warning("could not broadcast the end of a console sign-in", exc_info=True)

    async def _on_broadcast(self, channel: str, message: str) -> None:
        if channel == REVOKED_CHANNEL:
            self._forget(message)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite returns UTC without a zone
