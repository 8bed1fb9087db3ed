"""The sign-in limiter: backoff per (client, account) that grows and is capped, ceilings per account and per client,
and one count for every replica when Redis is shared."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from modelyard.console.errors import ApiError
from modelyard.console.ratelimit import PAIR, Backoff, SignInLimiter
from modelyard.errors import CredentialError
from modelyard.store.cache import Cache, RedisCache
from tests.support import redis_url, require_redis

OWNER = "owner@example.com"
ATTACKER, OWNERS_LAPTOP = "203.0.113.9", "198.51.100.7"
GENEROUS = Backoff(free=1000, base_s=1, cap_s=60, forget_s=60)  # a ceiling that stays out of the way
BRIEF = {"account": GENEROUS, "client": GENEROUS}  # in the shared Redis: every key expires a minute after its use


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def wrong_password(limiter: SignInLimiter, client: str, email: str | None = OWNER) -> None:
    with pytest.raises(CredentialError):
        async with limiter.attempt(client=client, email=email):
            raise CredentialError("wrong email or password")


async def refused_for(limiter: SignInLimiter, client: str, email: str | None = OWNER) -> int:
    """The Retry-After, in seconds, of an attempt that must be refused."""
    with pytest.raises(ApiError) as refused:
        async with limiter.attempt(client=client, email=email):
            pytest.fail("a refused attempt must not reach the password check")
    assert refused.value.status == 429
    return int(refused.value.headers["Retry-After"])


async def signs_in(limiter: SignInLimiter, client: str, email: str | None = OWNER) -> None:
    async with limiter.attempt(client=client, email=email):
        pass


def test_the_backoff_doubles_after_the_free_attempts_and_stops_at_its_cap() -> None:
    backoff = Backoff(free=3, base_s=1, cap_s=10, forget_s=60)

    assert [backoff.wait_s(n) for n in range(9)] == [0, 0, 0, 1, 2, 4, 8, 10, 10]
    assert PAIR.wait_s(10_000) == PAIR.cap_s


async def test_after_the_free_attempts_each_wait_is_twice_the_last() -> None:
    clock = Clock()
    limiter = SignInLimiter(Cache(), pair=Backoff(free=2, base_s=1, cap_s=8, forget_s=3600), clock=clock)
    for _ in range(2):
        await wrong_password(limiter, ATTACKER)

    waits = []
    for _ in range(5):
        waits.append(await refused_for(limiter, ATTACKER))
        clock.now += waits[-1]  # a refused attempt is not counted: waiting exactly that long is enough
        await wrong_password(limiter, ATTACKER)

    assert waits == [1, 2, 4, 8, 8]


async def test_one_clients_wrong_guesses_do_not_lock_the_owner_out_from_another() -> None:
    limiter = SignInLimiter(Cache(), clock=Clock())
    for _ in range(PAIR.free):
        await wrong_password(limiter, ATTACKER)
    assert await refused_for(limiter, ATTACKER) >= 1

    await signs_in(limiter, OWNERS_LAPTOP)
    await wrong_password(limiter, OWNERS_LAPTOP)  # a typo of the owner's own is counted apart, too
    await signs_in(limiter, OWNERS_LAPTOP)
    assert await refused_for(limiter, ATTACKER) >= 1  # and the attacker is still held


async def test_a_successful_sign_in_clears_its_clients_count() -> None:
    limiter = SignInLimiter(Cache(), pair=Backoff(free=3, base_s=60, cap_s=60, forget_s=3600), clock=Clock())
    for _ in range(2):
        await wrong_password(limiter, OWNERS_LAPTOP)
    await signs_in(limiter, OWNERS_LAPTOP)

    for _ in range(3):
        await wrong_password(limiter, OWNERS_LAPTOP)
    assert await refused_for(limiter, OWNERS_LAPTOP) == 60


async def test_the_count_is_forgotten_after_a_quiet_period() -> None:
    clock = Clock()
    limiter = SignInLimiter(Cache(), pair=Backoff(free=1, base_s=60, cap_s=600, forget_s=3600), clock=clock)
    await wrong_password(limiter, ATTACKER)
    clock.now += 60
    await wrong_password(limiter, ATTACKER)
    assert await refused_for(limiter, ATTACKER) == 120

    clock.now += 3600
    await wrong_password(limiter, ATTACKER)
    assert await refused_for(limiter, ATTACKER) == 60  # counting from one again


async def test_guesses_at_one_account_from_many_clients_reach_the_accounts_ceiling() -> None:
    account = Backoff(free=20, base_s=30, cap_s=300, forget_s=3600)
    limiter = SignInLimiter(Cache(), account=account, client=GENEROUS, clock=Clock())
    for number in range(20):  # one guess from each of 20 clients: each pair stays far below its own limit
        await wrong_password(limiter, f"192.0.2.{number}")

    assert await refused_for(limiter, OWNERS_LAPTOP) == 30
    await signs_in(limiter, OWNERS_LAPTOP, "someone-else@example.com")  # other accounts are untouched


async def test_one_client_trying_many_accounts_reaches_the_clients_ceiling() -> None:
    client = Backoff(free=20, base_s=30, cap_s=300, forget_s=3600)
    limiter = SignInLimiter(Cache(), client=client, account=GENEROUS, clock=Clock())
    for number in range(20):
        await wrong_password(limiter, ATTACKER, f"user{number}@example.com")

    assert await refused_for(limiter, ATTACKER, "user99@example.com") == 30
    await signs_in(limiter, OWNERS_LAPTOP)


async def test_a_success_gives_its_attempt_back_to_the_account_and_the_client() -> None:
    ceiling = Backoff(free=3, base_s=30, cap_s=300, forget_s=3600)
    limiter = SignInLimiter(Cache(), account=ceiling, client=ceiling, clock=Clock())

    for _ in range(10):  # the owner signing in all day never reaches either ceiling
        await signs_in(limiter, OWNERS_LAPTOP)


async def test_emails_are_one_account_whatever_their_case_and_spaces() -> None:
    limiter = SignInLimiter(Cache(), pair=Backoff(free=2, base_s=5, cap_s=5, forget_s=60), clock=Clock())
    await wrong_password(limiter, ATTACKER, "Owner@Example.com")
    await wrong_password(limiter, ATTACKER, " owner@example.com ")

    assert await refused_for(limiter, ATTACKER, OWNER) == 5


async def test_an_ipv6_client_is_counted_by_its_64_bit_prefix() -> None:
    limiter = SignInLimiter(Cache(), pair=Backoff(free=2, base_s=5, cap_s=5, forget_s=60), clock=Clock())
    await wrong_password(limiter, "2001:db8:1:2::1")
    await wrong_password(limiter, "2001:db8:1:2:ffff::9")  # the same host, another address of its /64

    assert await refused_for(limiter, "2001:db8:1:2::abcd") == 5
    await signs_in(limiter, "2001:db8:1:3::1")  # another /64 is another client


async def test_the_in_process_table_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    limiter = SignInLimiter(Cache(), clock=Clock())
    counts = limiter._counts
    monkeypatch.setattr(counts, "MAX_KEYS", 50)

    for number in range(100):
        await wrong_password(limiter, f"192.0.2.{number}", f"user{number}@example.com")

    assert len(counts._entries) == 50  # type: ignore[attr-defined]


@pytest.fixture
async def replicas() -> AsyncIterator[tuple[RedisCache, RedisCache]]:
    require_redis()
    first, second = RedisCache(redis_url()), RedisCache(redis_url())
    await first.start()
    await second.start()
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_replicas_share_the_backoff_through_redis(replicas: tuple[RedisCache, RedisCache]) -> None:
    clock = Clock()
    # Keys of their own (other runs share this Redis), gone by themselves a minute after the last attempt.
    email, attacker = f"{secrets.token_hex(8)}@example.com", f"test-{secrets.token_hex(8)}"
    pair = Backoff(free=2, base_s=2, cap_s=8, forget_s=60)
    first, second = (SignInLimiter(cache, pair=pair, **BRIEF, clock=clock) for cache in replicas)
    await wrong_password(first, attacker, email)
    await wrong_password(second, attacker, email)

    assert await refused_for(first, attacker, email) == 2
    assert await refused_for(second, attacker, email) == 2
    clock.now += 2
    await wrong_password(second, attacker, email)
    assert await refused_for(first, attacker, email) == 4
    await signs_in(first, f"test-{secrets.token_hex(8)}", email)  # the owner, elsewhere, is not held


async def test_a_success_through_redis_clears_the_pair(replicas: tuple[RedisCache, RedisCache]) -> None:
    email, client = f"{secrets.token_hex(8)}@example.com", f"test-{secrets.token_hex(8)}"
    pair = Backoff(free=2, base_s=30, cap_s=30, forget_s=60)
    first, second = (SignInLimiter(cache, pair=pair, **BRIEF, clock=Clock()) for cache in replicas)
    await wrong_password(first, client, email)
    await signs_in(second, client, email)

    await wrong_password(first, client, email)
    await wrong_password(second, client, email)
    assert await refused_for(first, client, email) == 30
