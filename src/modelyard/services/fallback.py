"""One call of a model alias: which target to try, what a failure means for the next try, and how long a target rests.

Everything here happens before the first byte reaches the caller (DESIGN §5):

* the first target is a weighted pick (smooth weighted round-robin, per alias and process; a target of weight 0 is
  only ever a fallback); after a failure the next is the first target, in the alias's order, not yet tried this round;
* a context-length error skips to the first target with a larger context window, and leaves out every other;
* a rate limit (429), a provider quota used up, a 5xx, a timeout or a broken connection moves on to the next target;
  so does a refused stored key, a hosted quota spent or a feature the target lacks, which leave that target out of
  the rest of the call; a request the provider refused as invalid, or anything else, ends the call at once;
* when every target of a round has failed, the call goes round again after an exponential backoff with jitter, as
  long as its budget of attempts (`max_attempts`) and time (`max_time_s`) lasts;
* a target in cool-down is skipped. A 429 rests it for its Retry-After (RATE_LIMIT_REST_S without one), a provider
  quota used up for QUOTA_REST_S, and TRANSIENT_FAILURES failures in a row (5xx, timeout, connection; counted per
  process) for TRANSIENT_REST_S. Cool-downs are shared by every replica (services/cooldowns.py).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from modelyard.errors import (
    ContextLengthExceededError,
    HostedQuotaExceededError,
    ModelyardError,
    ProviderQuotaExhaustedError,
    UnsupportedFeatureError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamRateLimitError,
)
from modelyard.services.cooldowns import Cooldowns, Rest
from modelyard.services.lru import LRU
from modelyard.services.resolve import ResolvedAlias, ResolvedTarget

T = TypeVar("T")

RATE_LIMIT_REST_S = 60.0  # a 429 without Retry-After
MIN_REST_S = 1.0  # "Retry-After: 0" must not send every waiting call back at once
MAX_REST_S = 600.0
QUOTA_REST_S = 600.0  # the provider account's credits ran out: no use asking again soon
TRANSIENT_FAILURES = 3  # failures in a row (5xx, timeout, connection) that rest a target ...
TRANSIENT_REST_S = 10.0  # ... this long
BACKOFF_BASE_S = 0.25  # the first backoff between rounds is 0.125 to 0.25 s, then it doubles
BACKOFF_MAX_S = 4.0
_ROTATIONS = 10_000  # aliases whose weighted rotation one process keeps


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one failure means for the rest of the call."""

    moves_on: bool  # another target (or another round) may still answer
    leaves_out: bool = False  # this target cannot answer this call
    rest_s: float | None = None  # rest the target this long (shared by every replica)
    is_transient: bool = False  # counts towards TRANSIENT_FAILURES


def verdict_on(error: BaseException) -> Verdict:
    """Classified by class (the status and the provider's code decided it), never by message text."""
    if isinstance(error, ContextLengthExceededError):
        return Verdict(moves_on=True, leaves_out=True)  # the call picks a larger window; see `_next`
    if isinstance(error, UpstreamRateLimitError):
        retry_after = error.retry_after_s
        if retry_after is None or not math.isfinite(retry_after) or retry_after < 0:
            return Verdict(moves_on=True, rest_s=RATE_LIMIT_REST_S)
        return Verdict(moves_on=True, rest_s=min(max(retry_after, MIN_REST_S), MAX_REST_S))
    if isinstance(error, ProviderQuotaExhaustedError):
        return Verdict(moves_on=True, leaves_out=True, rest_s=QUOTA_REST_S)
    if isinstance(error, UpstreamBadRequestError):  # the request itself: another model would refuse it too
        return Verdict(moves_on=False)
    if isinstance(error, UpstreamError) and error.is_retryable:  # 5xx, timeout, connection, a pool all resting
        return Verdict(moves_on=True, is_transient=True)
    if isinstance(error, UpstreamAuthError | UpstreamError | HostedQuotaExceededError | UnsupportedFeatureError):
        return Verdict(moves_on=True, leaves_out=True)
    return Verdict(moves_on=False)


def failure_label(error: BaseException) -> str:
    """How `x-modelyard-fallbacks` names a failure: the upstream status, else what happened."""
    if isinstance(error, ContextLengthExceededError):
        return "context_length"
    status = getattr(error, "status_code", None)
    if status is not None:
        return str(status)
    from modelyard.error_contract import contract_of  # the table's code: timeout, connection error ...

    return contract_of(type(error)).code


def backoff_s(round_number: int, draw: Callable[[], float] = random.random) -> float:
    """The wait before round `round_number` (1 = the first retry): exponential, with half of it random ("equal
    jitter"), so calls that failed together do not come back together."""
    ceiling: float = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2.0 ** (round_number - 1))
    return ceiling / 2 + draw() * ceiling / 2


@dataclass
class Trail:
    """What a call of an alias did: its attempts, and each target it moved on from (`provider/model:why`)."""

    attempts: int = 0
    fallbacks: list[str] = field(default_factory=list)


@dataclass
class Answer(Generic[T]):
    result: T
    target: ResolvedTarget
    trail: Trail


class _Call:
    """One call's state: what was tried this round, what is left out, and the last failure."""

    __slots__ = ("alias", "deadline", "last", "left_out", "noted", "trail", "tried", "window")

    def __init__(self, alias: ResolvedAlias, deadline: float) -> None:
        self.alias = alias
        self.deadline = deadline
        self.trail = Trail()
        self.tried: set[str] = set()  # this round
        self.left_out: set[str] = set()
        self.noted: set[str] = set()  # targets already named in the trail as skipped
        self.last: ModelyardError | None = None
        self.window: int | None = None  # after a context-length error: only larger windows are tried


class Fallback:
    """Runs calls of aliases; one per process, which keeps the weighted rotations and the counts of failures."""

    def __init__(
        self,
        cooldowns: Cooldowns,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self._cooldowns = cooldowns
        self._clock = clock
        self._sleep = sleep  # injectable, as the clock is: tests move time instead of sleeping
        self._draw = draw
        self._rotations: LRU[tuple[str, str], dict[str, int]] = LRU(_ROTATIONS)
        self._failures: LRU[tuple[str, str], int] = LRU(_ROTATIONS)  # transient failures in a row

    async def run(
        self, workspace_id: str, alias: ResolvedAlias, attempt: Callable[[ResolvedTarget], Awaitable[T]]
    ) -> Answer[T]:
        """The first answer of a target, or the failure that ended the call (see the module's docstring)."""
        call = _Call(alias, self._clock() + alias.max_time_s)
        rounds = 0
        while True:
            rests = await self._cooldowns.read(workspace_id, [target.name for target in alias.targets])
            target = self._next(workspace_id, call, rests)
            if target is None:  # the round is over
                if not self._may_go_round(call, rests):
                    raise self._final_error(call, rests)
                rounds += 1
                delay = backoff_s(rounds, self._draw)
                if self._clock() + delay >= call.deadline:
                    raise self._final_error(call, rests)
                await self._sleep(delay)
                call.tried.clear()
                continue
            call.tried.add(target.name)
            call.trail.attempts += 1
            try:
                result = await attempt(target)
            except ModelyardError as exc:
                await self._failed(workspace_id, call, target, exc)
                continue
            self._failures.pop((workspace_id, target.name))
            return Answer(result, target, call.trail)

    def _next(self, workspace_id: str, call: _Call, rests: Sequence[Rest]) -> ResolvedTarget | None:
        """The target to try now; None when this round has none left, or the call's budget is spent."""
        if call.trail.attempts >= call.alias.max_attempts or self._clock() >= call.deadline:
            return None
        candidates = []
        for target, rest in zip(call.alias.targets, rests, strict=True):
            if target.name in call.left_out or target.name in call.tried:
                continue
            if call.window is not None and (target.context_size or 0) <= call.window:
                continue
            if rest.is_cooling:
                if target.name not in call.noted:
                    call.noted.add(target.name)
                    call.trail.fallbacks.append(f"{target.name}:cooling")
                continue
            candidates.append(target)
        if not candidates:
            return None
        if call.trail.attempts == 0 and call.window is None:
            return self._weighted(workspace_id, call.alias, candidates)
        return candidates[0]

    def _weighted(self, workspace_id: str, alias: ResolvedAlias, candidates: list[ResolvedTarget]) -> ResolvedTarget:
        """nginx's smooth weighted round-robin over the candidates of weight > 0: each pick, every candidate gains its
        weight and the richest is picked and pays the total back, so each cycle matches the weights exactly."""
        weighted = [target for target in candidates if target.weight > 0]
        if not weighted:
            return candidates[0]  # only fallbacks are left: the first of them
        key = (workspace_id, alias.name)
        current = self._rotations.get(key)
        if current is None:
            current = self._rotations[key] = {}
        best, best_score, total = weighted[0], None, 0
        for target in weighted:
            score = current.get(target.name, 0) + target.weight
            current[target.name] = score
            total += target.weight
            if best_score is None or score > best_score:
                best, best_score = target, score
        current[best.name] -= total
        return best

    async def _failed(self, workspace_id: str, call: _Call, target: ResolvedTarget, error: ModelyardError) -> None:
        verdict = verdict_on(error)
        if not verdict.moves_on:
            raise error
        call.last = error
        call.noted.add(target.name)  # its failure is in the trail: its rest need not be
        call.trail.fallbacks.append(f"{target.name}:{failure_label(error)}")
        if verdict.leaves_out:
            call.left_out.add(target.name)
        if isinstance(error, ContextLengthExceededError):
            call.window = max(call.window or 0, target.context_size or 0)
        rest_s = verdict.rest_s
        if verdict.is_transient:
            key = (workspace_id, target.name)
            failures = (self._failures.get(key) or 0) + 1
            self._failures[key] = failures
            if failures >= TRANSIENT_FAILURES:
                self._failures.pop(key)
                rest_s = TRANSIENT_REST_S
        if rest_s is not None:
            reason = f"{type(error).__name__}: {failure_label(error)}"  # never the message: vendors echo keys in it
            await self._cooldowns.cool(workspace_id, target.name, rest_s, reason)

    def _may_go_round(self, call: _Call, rests: Sequence[Rest]) -> bool:
        """Whether another round could find a target: one that failed for a passing reason and does not rest (a
        call never waits out a rest: it answers the caller with its end instead), within the attempts left."""
        if call.last is None or call.trail.attempts >= call.alias.max_attempts:
            return False
        return any(
            target.name not in call.left_out and not rest.is_cooling
            for target, rest in zip(call.alias.targets, rests, strict=True)
        )

    def _final_error(self, call: _Call, rests: Sequence[Rest]) -> ModelyardError:
        """The last failure; or, when every target was resting and none was tried, a rate limit that says until
        when (Retry-After: the earliest end of a rest)."""
        if call.last is not None:
            return call.last
        resting = [rest.remaining_s for rest in rests if rest.is_cooling]
        retry_after = min(resting) if resting else None
        return UpstreamRateLimitError(
            "every model of this alias is resting after failures ("
            + ", ".join(call.trail.fallbacks)
            + "); "
            + (f"try again in {math.ceil(retry_after)} s" if retry_after is not None else "try again shortly"),
            provider=call.alias.name,
            status_code=None,
            retry_after_s=retry_after,
        )
