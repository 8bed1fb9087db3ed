"""Sessions and access tokens at rest: stored hashed, expiring, sliding while in use; on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from modelyard.console.sessions import SignIns
from modelyard.services.context import Services
from modelyard.store.tables import AccessToken, ConsoleSession
from tests.support import eventually, make_settings, redis_url, require_redis
from tests.support.console import API, PASSWORD, Console


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        from tests.support import require_postgres

        require_postgres()
    return str(request.param)


@pytest.fixture
def sign_ins(console: Console) -> SignIns:
    sign_ins: SignIns = console.app.console.state.console.sign_ins
    sign_ins.CACHE_TTL_S = 0.0  # every request reads the database: these tests change rows under it
    return sign_ins


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def expiry(console: Console, token_hash: str) -> datetime:
    async with console.services.db() as session:
        moment = await session.scalar(select(ConsoleSession.expires_at).where(ConsoleSession.token_hash == token_hash))
    assert moment is not None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def set_expiry(console: Console, token_hash: str, moment: datetime) -> None:
    async with console.services.db.begin() as session:
        await session.execute(
            update(ConsoleSession).where(ConsoleSession.token_hash == token_hash).values(expires_at=moment)
        )


async def test_only_hashes_of_sessions_and_tokens_are_stored(console: Console, sign_ins: SignIns) -> None:
    await console.account("ada@example.com")
    client = await console.sign_in("ada@example.com")
    cookie = client.cookies["modelyard_session"]
    token = (
        await console.client().post(f"{API}/auth/tokens", json={"email": "ada@example.com", "password": PASSWORD})
    ).json()["token"]

    async with console.services.db() as session:
        sessions = (await session.scalars(select(ConsoleSession.token_hash))).all()
        tokens = (await session.scalars(select(AccessToken.token_hash))).all()

    assert sessions == [sha256(cookie)]
    assert tokens == [sha256(token)]
    assert token.startswith("mypat-")


async def test_a_session_slides_forward_while_in_use(console: Console, sign_ins: SignIns) -> None:
    await console.account("ada@example.com")
    client = await console.sign_in("ada@example.com")
    token_hash = sha256(client.cookies["modelyard_session"])
    fresh = await expiry(console, token_hash)
    assert timedelta(days=6, hours=23) < fresh - datetime.now(UTC) <= timedelta(days=7)

    await client.get(f"{API}/auth/me")
    assert await expiry(console, token_hash) == fresh  # less than a day old: no write

    await set_expiry(console, token_hash, datetime.now(UTC) + timedelta(days=1))
    assert (await client.get(f"{API}/auth/me")).status_code == 200

    assert await expiry(console, token_hash) - datetime.now(UTC) > timedelta(days=6, hours=23)


async def test_an_expired_session_is_refused(console: Console, sign_ins: SignIns) -> None:
    await console.account("ada@example.com")
    client = await console.sign_in("ada@example.com")
    await set_expiry(console, sha256(client.cookies["modelyard_session"]), datetime.now(UTC) - timedelta(seconds=1))

    response = await client.get(f"{API}/auth/me")

    assert response.status_code == 401


async def test_ending_every_sign_in_of_an_account(console: Console, sign_ins: SignIns) -> None:
    account_id = await console.account("ada@example.com")
    cookie_client = await console.sign_in("ada@example.com")
    token_client = await console.token_client("ada@example.com")

    await sign_ins.end_all(account_id)

    assert (await cookie_client.get(f"{API}/auth/me")).status_code == 401
    assert (await token_client.get(f"{API}/auth/me")).status_code == 401


async def test_signing_out_on_one_replica_ends_the_session_cached_on_another(tmp_path, runtime) -> None:
    require_redis()
    replicas = [
        Services(make_settings(tmp_path, "sqlite", None, redis_url=redis_url()), runtime=runtime) for _ in range(2)
    ]
    for services in replicas:
        services.accounts.password_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        await services.start()
    try:
        here, there = SignIns(replicas[0]), SignIns(replicas[1])
        account = await replicas[0].accounts.create(email=f"{secrets.token_hex(4)}@example.com", password=PASSWORD)
        token, principal = await here.open_session(account)
        assert await there.find(token, "session") == principal  # now cached over there, for 30 s

        await here.end(principal)

        async def forgotten_there() -> bool:
            return await there.find(token, "session") is None

        await eventually(forgotten_there, "the other replica to drop the session (a Redis pub/sub broadcast)")
    finally:
        for services in replicas:
            await services.close()
