from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from modelyard.errors import (
    ContentFilteredError,
    ContextLengthExceededError,
    ProviderQuotaExhaustedError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamConnectionError,
    UpstreamProtocolError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from modelyard.services.balancer import EntryState, LoadBalancer, PoolEntry
from modelyard.store.cache import Cache, RedisCache
from tests.support import eventually, redis_url, require_redis

POOL = "ws_1/openai/gpt-5/llm"
A, B, C = PoolEntry("lb_a", 5), PoolEntry("lb_b", 1), PoolEntry("lb_c", 1)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def balancer(clock: FakeClock) -> LoadBalancer:
    return LoadBalancer(Cache(), clock=clock)


def picks(balancer: LoadBalancer, entries: list[PoolEntry], turns: int, pool: str = POOL) -> list[str]:
    return [balancer.choose(pool, entries)[0].id for _ in range(turns)]


def status(balancer: LoadBalancer, entry: PoolEntry, pool: str = POOL) -> EntryState:
    (state,) = balancer.state(pool, [entry])
    return state


def rate_limited(retry_after_s: float | None = None) -> UpstreamRateLimitError:
    return UpstreamRateLimitError("slow down", provider="openai", retry_after_s=retry_after_s)


# --- weighted round-robin -----------------------------------------------------------------------------------


def test_choose_follows_nginx_smooth_weighted_round_robin(balancer) -> None:
    assert picks(balancer, [A, B, C], 7) == ["lb_a", "lb_a", "lb_b", "lb_a", "lb_c", "lb_a", "lb_a"]


@pytest.mark.parametrize("weights", [(3, 2, 1), (1, 1, 1), (7, 3), (1, 100), (4, 4, 2, 1)])
def test_choose_matches_the_weights_exactly_in_every_cycle(balancer, weights) -> None:
    entries = [PoolEntry(f"lb_{n}", weight) for n, weight in enumerate(weights)]
    cycle = sum(weights)

    sequence = picks(balancer, entries, cycle * 50)

    for start in range(0, len(sequence), cycle):
        counts = Counter(sequence[start : start + cycle])
        assert [counts[entry.id] for entry in entries] == list(weights)


def test_choose_puts_the_other_available_entries_after_the_pick_as_the_fail_over_order(balancer) -> None:
    assert [e.id for e in balancer.choose(POOL, [B, A, C])] == ["lb_a", "lb_b", "lb_c"]
    assert [e.id for e in balancer.choose(POOL, [B, A, C])] == ["lb_a", "lb_b", "lb_c"]
    assert [e.id for e in balancer.choose(POOL, [B, A, C])] == ["lb_b", "lb_a", "lb_c"]


def test_choose_leaves_out_entries_without_a_positive_weight(balancer) -> None:
    zero, negative = PoolEntry("lb_zero", 0), PoolEntry("lb_negative", -3)

    assert [e.id for e in balancer.choose(POOL, [zero, B, negative])] == ["lb_b"]
    assert balancer.choose(POOL, [zero, negative]) == []
    assert balancer.choose(POOL, []) == []
    assert status(balancer, zero).status == "disabled"


def test_pools_keep_separate_rotations(balancer) -> None:
    other = "ws_2/openai/gpt-5/llm"

    assert picks(balancer, [A, B, C], 2) == ["lb_a", "lb_a"]
    assert picks(balancer, [A, B, C], 1, pool=other) == ["lb_a"]
    assert picks(balancer, [A, B, C], 1) == ["lb_b"]


@pytest.mark.parametrize(
    "changed",
    [
        [PoolEntry("lb_b", 2), PoolEntry("lb_d", 1)],  # entries replaced
        [PoolEntry("lb_a", 1), PoolEntry("lb_b", 1), PoolEntry("lb_c", 1)],  # weights changed
        [A, B],  # an entry removed
    ],
)
def test_a_changed_pool_starts_a_fresh_rotation(balancer, changed) -> None:
    picks(balancer, [A, B, C], 3)
    fresh = LoadBalancer(Cache())
    cycle = sum(entry.weight for entry in changed)

    assert picks(balancer, changed, cycle * 3) == picks(fresh, changed, cycle * 3)


# --- failures -----------------------------------------------------------------------------------------------


async def test_a_rate_limit_cools_the_entry_for_its_retry_after_then_it_returns(balancer, clock) -> None:
    await balancer.report_failure(POOL, A.id, rate_limited(retry_after_s=7))

    assert [e.id for e in balancer.choose(POOL, [A, B, C])] == ["lb_b", "lb_c"]
    state = status(balancer, A)
    assert (state.status, state.cooldown_remaining_s) == ("cooling", 7)
    assert "UpstreamRateLimitError" in (state.reason or "")
    clock.advance(6.9)
    assert A not in balancer.choose(POOL, [A, B, C])
    clock.advance(0.1)
    assert A in balancer.choose(POOL, [A, B, C])
    assert status(balancer, A) == EntryState("lb_a", 5, "available", 0.0, None)


@pytest.mark.parametrize(
    ("retry_after_s", "cooldown_s"),
    [(None, 60), (0, 1), (0.2, 1), (30, 30), (3600, 600), (float("nan"), 60), (-5, 60)],
)
async def test_a_rate_limit_cool_down_has_a_default_a_floor_and_a_cap(balancer, retry_after_s, cooldown_s) -> None:
    await balancer.report_failure(POOL, A.id, rate_limited(retry_after_s))

    assert status(balancer, A).cooldown_remaining_s == cooldown_s


@pytest.mark.parametrize(
    "error",
    [
        UpstreamConnectionError("refused", provider="openai"),
        UpstreamTimeoutError("timed out", provider="openai"),
        UpstreamUnavailableError("overloaded", provider="openai", status_code=503),
    ],
)
async def test_connection_errors_timeouts_and_5xx_cool_the_entry_briefly(balancer, clock, error) -> None:
    await balancer.report_failure(POOL, A.id, error)

    state = status(balancer, A)
    assert (state.status, state.cooldown_remaining_s, state.reason) == ("cooling", 10, type(error).__name__)
    clock.advance(10)
    assert status(balancer, A).status == "available"


@pytest.mark.parametrize(
    "error",
    [
        UpstreamBadRequestError("bad", provider="openai", status_code=400),
        ContextLengthExceededError("too long", provider="openai", status_code=400),
        ContentFilteredError("filtered", provider="openai", status_code=400),
        UpstreamProtocolError("unreadable", provider="openai"),
        ValueError("a bug"),
        asyncio.CancelledError(),
    ],
)
async def test_errors_about_the_request_leave_the_entry_alone(balancer, error) -> None:
    await balancer.report_failure(POOL, A.id, error)

    assert status(balancer, A).status == "available"
    assert balancer.choose(POOL, [A])[0] is A


async def test_an_auth_failure_disables_the_entry_in_every_pool_until_enabled(balancer, clock) -> None:
    other = "ws_1/openai/gpt-5-mini/llm"
    await balancer.report_failure(POOL, A.id, UpstreamAuthError("invalid key sk-12***89", provider="openai"))
    clock.advance(86_400)

    assert [e.id for e in balancer.choose(POOL, [A, B])] == ["lb_b"]
    assert [e.id for e in balancer.choose(other, [A])] == []
    state = status(balancer, A)
    assert (state.status, state.cooldown_remaining_s) == ("disabled", 0)
    assert "sk-" not in (state.reason or "")  # vendors echo key fragments in messages; reasons name the class
    await balancer.enable(A.id)
    assert status(balancer, A).status == "available"
    assert status(balancer, A, pool=other).status == "available"


async def test_a_used_up_provider_quota_cools_the_entry_for_the_longest_time(balancer) -> None:
    await balancer.report_failure(POOL, A.id, ProviderQuotaExhaustedError("no credits", provider="openai"))

    assert status(balancer, A).cooldown_remaining_s == 600


async def test_a_cool_down_applies_to_its_pool_only(balancer) -> None:
    await balancer.report_failure(POOL, A.id, rate_limited(30))

    assert status(balancer, A, pool="ws_1/openai/gpt-5-mini/llm").status == "available"


async def test_when_every_entry_is_out_choose_returns_nothing(balancer, clock) -> None:
    await balancer.report_failure(POOL, A.id, rate_limited(30))
    await balancer.report_failure(POOL, B.id, UpstreamAuthError("refused", provider="openai"))
    await balancer.report_failure(POOL, C.id, UpstreamUnavailableError("down", provider="openai"))

    assert balancer.choose(POOL, [A, B, C]) == []
    clock.advance(10)
    assert balancer.choose(POOL, [A, B, C]) == [C]


async def test_a_shorter_cool_down_never_cuts_a_longer_one(balancer, clock) -> None:
    await balancer.report_failure(POOL, A.id, rate_limited(120))
    await balancer.report_failure(POOL, A.id, UpstreamTimeoutError("slow", provider="openai"))
    await balancer.report_success(POOL, A.id)

    assert status(balancer, A).cooldown_remaining_s == 120
    await balancer.report_failure(POOL, A.id, rate_limited(300))
    assert status(balancer, A).cooldown_remaining_s == 300


async def test_a_success_ends_a_brief_cool_down_but_not_a_rate_limit(balancer) -> None:
    await balancer.report_failure(POOL, A.id, UpstreamConnectionError("reset", provider="openai"))
    await balancer.report_failure(POOL, B.id, rate_limited(30))

    await balancer.report_success(POOL, A.id)  # a call that was in flight when the other one failed
    await balancer.report_success(POOL, B.id)

    assert [s.status for s in balancer.state(POOL, [A, B])] == ["available", "cooling"]


async def test_an_in_process_balancer_shares_nothing(clock) -> None:
    cache = Cache()
    heard: list[str] = []

    async def listener(channel: str, message: str) -> None:
        heard.append(message)

    cache.subscribe(listener)
    balancer = LoadBalancer(cache, clock=clock)
    await balancer.start()

    await balancer.report_failure(POOL, A.id, rate_limited(30))
    await balancer.report_failure(POOL, B.id, UpstreamAuthError("refused", provider="openai"))
    await balancer.enable(B.id)
    await balancer.close()

    assert heard == []
    assert cache._values == {}


def test_choose_reads_no_clock_while_nothing_in_the_pool_cools_down() -> None:
    calls = 0

    def counting_clock() -> float:
        nonlocal calls
        calls += 1
        return 0.0

    quiet = LoadBalancer(Cache(), clock=counting_clock)
    picks(quiet, [A, B, C], 10)

    assert calls == 0


# --- shared through Redis -----------------------------------------------------------------------------------


@pytest.fixture
async def replicas() -> AsyncIterator[Callable[[], Awaitable[LoadBalancer]]]:
    """Start balancers as separate replicas would: each on its own Redis connection, under this test's prefix."""
    require_redis()
    prefix = f"modelyard-test:{secrets.token_hex(6)}:lb:"
    started: list[tuple[RedisCache, LoadBalancer]] = []

    async def start() -> LoadBalancer:
        cache = RedisCache(redis_url())
        await cache.start()
        balancer = LoadBalancer(cache, key_prefix=prefix)
        await balancer.start()
        started.append((cache, balancer))
        return balancer

    try:
        yield start
    finally:
        for _, balancer in started:
            await balancer.close()
        cleaner = started[0][0].client if started else None
        if cleaner is not None:
            keys = [key async for key in cleaner.scan_iter(match=f"{prefix}*")]
            if keys:
                await cleaner.delete(*keys)
        for cache, _ in started:
            await cache.close()


def unique_pool() -> tuple[str, PoolEntry, PoolEntry]:
    """Random names: other test runs may share the Redis server and its `lb` channel."""
    token = secrets.token_hex(4)
    return f"ws_{token}/ollama/llama3.2:3b/llm", PoolEntry(f"lb_{token}_a", 2), PoolEntry(f"lb_{token}_b", 1)


async def test_a_cool_down_reported_on_one_replica_is_seen_by_another(replicas) -> None:
    pool, first, second = unique_pool()
    one, two = await replicas(), await replicas()

    await one.report_failure(pool, first.id, rate_limited(retry_after_s=30))

    await eventually(lambda: status(two, first, pool).status == "cooling", "replica two to see the key cooling")
    assert two.choose(pool, [first, second]) == [second]
    assert 0 < status(two, first, pool).cooldown_remaining_s <= 30
    assert "rate limited" in (status(two, first, pool).reason or "")


async def test_disable_and_enable_reach_every_replica(replicas) -> None:
    pool, first, _ = unique_pool()
    one, two = await replicas(), await replicas()

    await one.report_failure(pool, first.id, UpstreamAuthError("refused", provider="ollama"))
    await eventually(lambda: status(two, first, pool).status == "disabled", "replica two to see the key disabled")
    await two.enable(first.id)

    await eventually(lambda: status(one, first, pool).status == "available", "replica one to see the key available")
    assert status(two, first, pool).status == "available"


async def test_a_replica_that_starts_later_loads_current_state_from_redis(replicas) -> None:
    pool, first, second = unique_pool()
    one = await replicas()
    await one.report_failure(pool, first.id, rate_limited(retry_after_s=120))
    await one.report_failure(pool, second.id, UpstreamAuthError("refused", provider="ollama"))
    await one.close()  # its writes have reached Redis

    late = await replicas()

    states = late.state(pool, [first, second])
    assert [s.status for s in states] == ["cooling", "disabled"]
    assert 0 < states[0].cooldown_remaining_s <= 120


async def test_a_brief_cool_down_ended_by_a_success_ends_everywhere(replicas) -> None:
    pool, first, _ = unique_pool()
    one, two = await replicas(), await replicas()
    await one.report_failure(pool, first.id, UpstreamUnavailableError("down", provider="ollama"))
    await eventually(lambda: status(two, first, pool).status == "cooling", "replica two to see the key cooling")

    await two.report_success(pool, first.id)

    await eventually(lambda: status(one, first, pool).status == "available", "replica one to see the key available")
    await two.close()
    assert [s.status for s in (await replicas()).state(pool, [first])] == ["available"]


async def test_a_malformed_broadcast_is_ignored_and_sharing_goes_on(replicas) -> None:
    pool, first, _ = unique_pool()
    one, two = await replicas(), await replicas()

    await one._cache.publish("lb", "{not json")
    await one._cache.publish("lb", '{"op": "cool"}')
    await one.report_failure(pool, first.id, rate_limited(30))

    await eventually(lambda: status(two, first, pool).status == "cooling", "replica two to see the key cooling")


async def test_a_failing_redis_never_fails_the_report_and_local_state_still_counts(replicas, caplog) -> None:
    pool, first, second = unique_pool()
    one = await replicas()

    async def redis_down(*args, **kwargs) -> None:
        raise ConnectionError("redis went away")

    one._cache.set = redis_down  # type: ignore[method-assign]
    await one.report_failure(pool, first.id, rate_limited(30))
    assert one.choose(pool, [first, second]) == [second]
    await one.enable(second.id)  # waits for its turn in the writer, which must have survived the failure

    await one.close()
    assert "could not share load-balancer state through Redis (ConnectionError)" in caplog.text
