"""The sign-in limiter: fixed windows, Retry-After, and one count for every replica when Redis is shared."""

from __future__ import annotations

import secrets

import pytest

from modelyard.console.errors import ApiError
from modelyard.console.ratelimit import SignInLimiter
from modelyard.store.cache import Cache, RedisCache
from tests.support import redis_url, require_redis


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_the_window_ends_and_retry_after_says_when() -> None:
    clock = Clock(999_900.0)  # 3333 × 300: the start of a window
    limiter = SignInLimiter(Cache(), attempts=2, window_s=300, clock=clock)
    await limiter.attempt(client_ip="10.0.0.1")
    await limiter.attempt(client_ip="10.0.0.1")
    clock.now += 100

    with pytest.raises(ApiError) as refused:
        await limiter.attempt(client_ip="10.0.0.1")

    assert refused.value.status == 429
    assert refused.value.headers == {"Retry-After": "200"}
    clock.now += 200
    await limiter.attempt(client_ip="10.0.0.1")  # a new window


async def test_ips_and_emails_are_counted_apart() -> None:
    limiter = SignInLimiter(Cache(), attempts=1)
    await limiter.attempt(client_ip="10.0.0.1", email="ada@example.com")
    await limiter.attempt(client_ip="10.0.0.2", email="bob@example.com")

    with pytest.raises(ApiError):
        await limiter.attempt(client_ip="10.0.0.3", email="ADA@example.com ")  # same email, other IP
    with pytest.raises(ApiError):
        await limiter.attempt(client_ip="10.0.0.2")  # same IP


async def test_replicas_share_the_count_through_redis() -> None:
    require_redis()
    first, second = RedisCache(redis_url()), RedisCache(redis_url())
    await first.start()
    await second.start()
    client_ip = f"test-{secrets.token_hex(8)}"  # keys of their own: other runs share this Redis
    try:
        replicas = [SignInLimiter(first, attempts=3), SignInLimiter(second, attempts=3)]
        for number in range(3):
            await replicas[number % 2].attempt(client_ip=client_ip)

        with pytest.raises(ApiError):
            await replicas[1].attempt(client_ip=client_ip)
    finally:
        keys = [key async for key in first.client.scan_iter(f"console:sign-in:ip:{client_ip}:*")]
        if keys:
            await first.client.delete(*keys)
        await first.close()
        await second.close()
