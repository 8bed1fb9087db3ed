"""Cool-downs of alias targets: read through (no copy to go stale), shared by replicas on Redis, and never shortened."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from modelyard.services.cooldowns import LocalCooldowns, RedisCooldowns, cooldowns_for
from modelyard.store.cache import Cache, RedisCache
from tests.support import eventually, redis_url, require_redis

TARGET = "openai/gpt-5.4"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def replicas() -> AsyncIterator[tuple[RedisCooldowns, RedisCooldowns, RedisCache]]:
    """Two replicas' cool-downs on one Redis, under a key prefix of this test's own."""
    require_redis()
    caches = [RedisCache(redis_url()) for _ in range(2)]
    prefix = f"modelyard:test-cool:{secrets.token_hex(4)}:"
    for cache in caches:
        await cache.start()
    try:
        yield RedisCooldowns(caches[0], key_prefix=prefix), RedisCooldowns(caches[1], key_prefix=prefix), caches[0]
    finally:
        async for key in caches[0].client.scan_iter(match=f"{prefix}*"):
            await caches[0].client.delete(key)
        for cache in caches:
            await cache.close()


def test_the_store_follows_the_cache() -> None:
    assert isinstance(cooldowns_for(Cache()), LocalCooldowns)


async def test_a_local_rest_ends_on_time_and_is_never_shortened() -> None:
    clock = Clock()
    cooldowns = LocalCooldowns(clock=clock)

    assert await cooldowns.cool("ws_1", TARGET, 60, "UpstreamRateLimitError: 429") == 60
    assert await cooldowns.cool("ws_1", TARGET, 5, "UpstreamUnavailableError: 503") == 60  # the longer rest stands
    clock.now += 30
    [rest, other] = await cooldowns.read("ws_1", [TARGET, "deepseek/deepseek-flash"])
    assert (rest.remaining_s, rest.reason, other.is_cooling) == (30, "UpstreamRateLimitError: 429", False)
    assert not (await cooldowns.read("ws_2", [TARGET]))[0].is_cooling  # one workspace's rest is its own

    assert await cooldowns.cool("ws_1", TARGET, 45, "longer") == 45  # a longer rest extends it
    clock.now += 45
    assert not (await cooldowns.read("ws_1", [TARGET]))[0].is_cooling


async def test_a_rest_set_on_one_replica_is_read_on_the_other(replicas) -> None:
    first, second, _ = replicas

    await first.cool("ws_1", TARGET, 120, "UpstreamRateLimitError: 429")

    [rest] = await second.read("ws_1", [TARGET])
    assert 119 < rest.remaining_s <= 120 and rest.reason == "UpstreamRateLimitError: 429"


async def test_a_shorter_rest_from_another_replica_never_shortens_one(replicas) -> None:
    first, second, _ = replicas
    await first.cool("ws_1", TARGET, 120, "long")

    in_force = await second.cool("ws_1", TARGET, 2, "short")

    assert in_force > 119
    for replica in (first, second):
        [rest] = await replica.read("ws_1", [TARGET])
        assert rest.remaining_s > 119 and rest.reason == "long"
    assert await second.cool("ws_1", TARGET, 300, "longer") == 300


async def test_reads_go_to_redis_every_time(replicas) -> None:
    """Nothing is kept from one read to the next: a rest Redis no longer holds is gone at once (LiteLLM #40130)."""
    first, second, cache = replicas
    await first.cool("ws_1", TARGET, 120, "long")
    assert (await second.read("ws_1", [TARGET]))[0].is_cooling

    await cache.client.delete(second.key("ws_1", TARGET))

    assert not (await second.read("ws_1", [TARGET]))[0].is_cooling


async def test_a_redis_rest_expires_by_itself(replicas) -> None:
    first, second, _ = replicas
    await first.cool("ws_1", TARGET, 0.05, "brief")

    async def ended() -> bool:
        return not (await second.read("ws_1", [TARGET]))[0].is_cooling

    await eventually(ended, "the rest to end")
