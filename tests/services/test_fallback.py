"""The fallback runner on its own: order, backoff, budgets and rests, with a fake clock and no upstream."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard.catalog.spec import ModelSpec
from modelyard.errors import (
    ContentFilteredError,
    ContextLengthExceededError,
    HostedQuotaExceededError,
    ModelyardError,
    ProviderQuotaExhaustedError,
    RateLimitedError,
    UpstreamAuthError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from modelyard.services import fallback
from modelyard.services.cooldowns import LocalCooldowns
from modelyard.services.fallback import Fallback, backoff_s, verdict_on
from modelyard.services.resolve import Resolved, ResolvedAlias, ResolvedTarget

WS = "ws_1"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def target(name: str, weight: int = 1, context: int | None = 100_000) -> ResolvedTarget:
    provider, model = name.split("/")
    spec = ModelSpec.model_validate({"id": model, "type": "llm", "properties": {"context_size": context}})
    return ResolvedTarget(name, Resolved(provider, spec, "llm", (), None), weight, context)


def alias(*targets: ResolvedTarget, attempts: int = 10, time_s: float = 30.0) -> ResolvedAlias:
    return ResolvedAlias("smart", "llm", targets, attempts, time_s)


class Script:
    """Attempts that fail as scripted, per target, then answer with the target's name."""

    def __init__(self, **failures: list[ModelyardError]) -> None:
        self.failures = {name.replace("_", "/"): list(errors) for name, errors in failures.items()}
        self.calls: list[str] = []

    async def __call__(self, chosen: ResolvedTarget) -> str:
        self.calls.append(chosen.name)
        queued = self.failures.get(chosen.name)
        if queued:
            raise queued.pop(0)
        return chosen.name


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cooldowns(clock: Clock) -> LocalCooldowns:
    return LocalCooldowns(clock=clock)


@pytest.fixture
def runner(clock: Clock, cooldowns: LocalCooldowns) -> Fallback:
    return Fallback(cooldowns, clock=clock, sleep=clock.sleep, draw=lambda: 1.0)


def down(provider: str = "a") -> UpstreamUnavailableError:
    return UpstreamUnavailableError("down", provider=provider, status_code=503)


A, B, C = target("a/one"), target("b/two"), target("c/three")


async def test_first_picks_follow_the_weights_exactly(runner: Fallback) -> None:
    smart = alias(target("a/one", 2), target("b/two", 1), target("c/three", 0))
    script = Script()
    picks = [(await runner.run(WS, smart, script)).result for _ in range(6)]
    assert picks.count("a/one") == 4 and picks.count("b/two") == 2 and "c/three" not in picks


async def test_a_failure_moves_on_in_list_order_and_the_trail_says_so(runner: Fallback) -> None:
    script = Script(a_one=[down()], b_two=[UpstreamTimeoutError("slow", provider="b")])
    answer = await runner.run(WS, alias(A, B, C), script)
    assert (answer.result, answer.trail.attempts) == ("c/three", 3)
    assert answer.trail.fallbacks == ["a/one:503", "b/two:upstream_timeout"]


async def test_a_context_error_skips_to_the_first_larger_window(runner: Fallback) -> None:
    small, same, large, larger = (
        target("a/small", context=8000),
        target("b/same", context=8000),
        target("c/large", context=200_000),
        target("d/larger", context=1_000_000),
    )
    script = Script(a_small=[ContextLengthExceededError("long", provider="a")])
    answer = await runner.run(WS, alias(small, same, large, larger), script)
    assert script.calls == ["a/small", "c/large"]
    assert answer.trail.fallbacks == ["a/small:context_length"]


async def test_a_context_error_with_no_larger_window_ends_the_call(runner: Fallback) -> None:
    script = Script(a_one=[ContextLengthExceededError("long", provider="a")])
    with pytest.raises(ContextLengthExceededError):
        await runner.run(WS, alias(A, target("b/two", context=100_000)), script)
    assert script.calls == ["a/one"]


@pytest.mark.parametrize("error", [ContentFilteredError("no", provider="a"), RateLimitedError("the key's own limit")])
async def test_a_refused_request_or_the_callers_limit_ends_the_call(runner: Fallback, error: ModelyardError) -> None:
    script = Script(a_one=[error])
    with pytest.raises(type(error)):
        await runner.run(WS, alias(A, B), script)
    assert script.calls == ["a/one"]


async def test_rounds_back_off_exponentially_within_the_attempts(runner: Fallback, clock: Clock) -> None:
    script = Script(a_one=[down(), down(), down()], b_two=[down("b"), down("b")])
    answer = await runner.run(WS, alias(A, B, attempts=6), script)
    assert script.calls == ["a/one", "b/two", "a/one", "b/two", "a/one", "b/two"]
    assert answer.result == "b/two"
    assert clock.slept == [fallback.BACKOFF_BASE_S, fallback.BACKOFF_BASE_S * 2]  # draw 1.0: the full ceiling


async def test_the_attempts_budget_ends_the_call_with_the_last_failure(runner: Fallback) -> None:
    script = Script(a_one=[down()] * 5)
    with pytest.raises(UpstreamUnavailableError):
        await runner.run(WS, alias(A, attempts=2), script)
    assert script.calls == ["a/one", "a/one"]


async def test_no_round_starts_past_the_time_budget(runner: Fallback, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fallback, "BACKOFF_BASE_S", 1.0)  # waits 1, 2, 4 s
    script = Script(a_one=[down()] * 9)
    with pytest.raises(UpstreamUnavailableError):
        await runner.run(WS, alias(A, time_s=3.5), script)
    assert script.calls == ["a/one", "a/one", "a/one"]  # at 0, 1 and 3 s; the next would start at 7 s


async def test_a_rate_limit_rests_the_target_for_its_retry_after(runner: Fallback, cooldowns: LocalCooldowns) -> None:
    script = Script(a_one=[UpstreamRateLimitError("slow", provider="a", retry_after_s=42)])
    assert (await runner.run(WS, alias(target("a/one", 1), target("b/two", 0)), script)).result == "b/two"

    [rest] = await cooldowns.read(WS, ["a/one"])
    assert rest.remaining_s == 42 and rest.reason == "UpstreamRateLimitError: 429"
    answer = await runner.run(WS, alias(target("a/one", 1), target("b/two", 0)), script)
    assert answer.trail.fallbacks == ["a/one:cooling"] and script.calls == ["a/one", "b/two", "b/two"]


async def test_every_target_resting_is_a_rate_limit_until_the_earliest_end(
    runner: Fallback, cooldowns: LocalCooldowns
) -> None:
    await cooldowns.cool(WS, "a/one", 30, "x")
    await cooldowns.cool(WS, "b/two", 12, "y")
    with pytest.raises(UpstreamRateLimitError) as caught:
        await runner.run(WS, alias(A, B), Script())
    assert caught.value.retry_after_s == 12 and "try again in 12 s" in str(caught.value)


async def test_transient_failures_in_a_row_rest_the_target(runner: Fallback, cooldowns: LocalCooldowns) -> None:
    script = Script(a_one=[down()] * fallback.TRANSIENT_FAILURES)
    for _ in range(fallback.TRANSIENT_FAILURES - 1):
        await runner.run(WS, alias(target("a/one", 1), target("b/two", 0)), script)
        assert not (await cooldowns.read(WS, ["a/one"]))[0].is_cooling
    await runner.run(WS, alias(target("a/one", 1), target("b/two", 0)), script)
    assert (await cooldowns.read(WS, ["a/one"]))[0].remaining_s == fallback.TRANSIENT_REST_S


async def test_a_success_resets_the_count_of_transient_failures(runner: Fallback, cooldowns: LocalCooldowns) -> None:
    lone = alias(A, attempts=1)
    script = Script(a_one=[down(), down()])
    for _ in range(2):
        with pytest.raises(UpstreamUnavailableError):
            await runner.run(WS, lone, script)
    await runner.run(WS, lone, script)  # answers
    script.failures["a/one"] = [down()]
    with pytest.raises(UpstreamUnavailableError):
        await runner.run(WS, lone, script)
    assert not (await cooldowns.read(WS, ["a/one"]))[0].is_cooling


@pytest.mark.parametrize(
    ("error", "moves_on", "leaves_out", "rest_s"),
    [
        (UpstreamRateLimitError("x", provider="p"), True, False, fallback.RATE_LIMIT_REST_S),
        (UpstreamRateLimitError("x", provider="p", retry_after_s=0), True, False, fallback.MIN_REST_S),
        (UpstreamRateLimitError("x", provider="p", retry_after_s=9999), True, False, fallback.MAX_REST_S),
        (ProviderQuotaExhaustedError("x", provider="p"), True, True, fallback.QUOTA_REST_S),
        (UpstreamAuthError("x", provider="p"), True, True, None),
        (HostedQuotaExceededError("spent"), True, True, None),
        (ContextLengthExceededError("x", provider="p"), True, True, None),
        (ContentFilteredError("x", provider="p"), False, False, None),
        (RateLimitedError("x"), False, False, None),
    ],
)
def test_what_each_failure_means(error: Any, moves_on: bool, leaves_out: bool, rest_s: float | None) -> None:
    verdict = verdict_on(error)
    assert (verdict.moves_on, verdict.leaves_out, verdict.rest_s) == (moves_on, leaves_out, rest_s)


def test_backoff_grows_to_its_ceiling_with_half_of_it_random() -> None:
    assert backoff_s(1, lambda: 0.0) == fallback.BACKOFF_BASE_S / 2
    assert backoff_s(3, lambda: 1.0) == fallback.BACKOFF_BASE_S * 4
    assert backoff_s(30, lambda: 1.0) == fallback.BACKOFF_MAX_S
