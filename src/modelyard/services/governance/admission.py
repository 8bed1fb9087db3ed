"""Admission: the policy checks every model call passes before it reaches a provider (issue 16 §1-2).

`admit` checks the key's allowed models, then takes from each level that has limits (the key's, the workspace's)
one request and the call's tokens from their per-minute buckets, a concurrency slot, and the call's worst-case
cost from their budget periods; `Admission.finish` frees the slots, corrects the token buckets by the real usage
and settles the budgets at the real cost, giving back the rest.

Where the counting happens:

* with Redis (`redis_admission`): rates and slots in one Lua script, one round trip, shared by every replica;
* without Redis: rates and slots in this process (`local`).

Budgets are taken from this process's leases of each period (`quota.lease`: a block reserved from the period's
counter, in the database or in Redis, renewed as it runs out, one call's worth near the limit), so a call whose
budget lease has room waits for nothing; a call whose cost nothing bounds (a transcription) reserves all that
remains of each period alone, as before.

A call without any limit at either level takes none of this: one dictionary lookup for the workspace's limits.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from modelyard.catalog.spec import ModelSpec
from modelyard.errors import BudgetExceededError, ModelNotAllowedError, RateLimitedError
from modelyard.services.governance.call import GovernedCall
from modelyard.services.governance.headers import duration, rate_limit_headers
from modelyard.services.governance.local import LocalLimiter
from modelyard.services.governance.periods import meter_name, period_end
from modelyard.services.governance.plan import (
    Admitted,
    BudgetCheck,
    Level,
    Plan,
    RateCheck,
    Refusal,
    SlotCheck,
)
from modelyard.services.governance.policy import Budget, KeyPolicy, Limits
from modelyard.services.governance.redis_admission import RedisAdmission
from modelyard.services.governance.status import BudgetStatus, budget_meter, budget_status
from modelyard.services.governance.workspace_policies import WorkspacePolicies
from modelyard.services.quota.budgets import (
    BUDGETS,
    BudgetDemand,
    BudgetHold,
    BudgetKey,
    BudgetRefused,
    SqlBudgets,
    from_units,
    stored_spend,
    to_units,
)
from modelyard.services.quota.estimate import CallEstimate, worst_case_price
from modelyard.services.quota.lease import Granted, Hold, LeasePool
from modelyard.services.quota.ledger import LedgerWriter
from modelyard.store.cache import Cache, RedisCache
from modelyard.types import ChatRequest, Usage

_PROCESS = secrets.token_hex(5)
_numbers = itertools.count()


@dataclass(frozen=True, slots=True)
class _Level:
    level: Level
    scope: str  # the key id, or the workspace id
    label: str  # how messages name it
    limits: Limits


@dataclass(frozen=True, slots=True)
class Ticket:
    """A call's plan, and the levels it comes from (their labels word a refusal)."""

    plan: Plan
    levels: list[_Level]
    is_at_once: bool  # every check is in this process's memory: taken without waiting for anything


class Governor:
    """Admits calls under their key's and workspace's policies; see the module docstring."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        cache: Cache,
        policies: WorkspacePolicies,
        *,
        dialect: str,
        call_timeout_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.policies = policies
        self._db = db
        self._clock = clock
        self._writer = LedgerWriter(db, BUDGETS)
        self._local = LocalLimiter()
        self._sql = SqlBudgets(db, self._writer, dialect=dialect)
        self._leases: LeasePool[BudgetKey, BudgetHold] = LeasePool(self._renew_budget, self._give_back_budget)
        lease_ms = int((call_timeout_s + 60) * 1000)  # a slot outlives the longest call, then frees itself
        self._redis = (
            RedisAdmission(cache, db, self._writer, lease_ms=lease_ms) if isinstance(cache, RedisCache) else None
        )

    async def start(self) -> None:
        await self.policies.start()
        self._writer.start()

    async def close(self) -> None:
        self._leases.close()  # unused budget goes back
        if self._redis is not None:
            await self._redis.close()  # sends the end of the calls it gathered
        await self._writer.close()  # writes what is queued

    async def flush(self) -> None:
        """Send the end of calls to Redis and write queued budget ledger rows now, instead of at the next tick, with
        every budget lease whose calls have ended settled."""
        self._leases.retire_all()
        if self._redis is not None:
            await self._redis.flush()
        await self._writer.flush()

    async def admit(
        self, call: GovernedCall, *, provider: str, model: ModelSpec, requested: str, request: object
    ) -> Admission | None:
        """Check and take what the call needs; None when nothing limits it. Raises ModelNotAllowedError,
        RateLimitedError or BudgetExceededError, leaving the answer's headers on `call`."""
        ticket = await self.plan(call, provider=provider, model=model, requested=requested, request=request)
        return None if ticket is None else await self.take(call, ticket)

    async def plan(
        self,
        call: GovernedCall,
        *,
        provider: str,
        model: ModelSpec,
        requested: str,
        request: object,
        fallbacks: Sequence[ModelSpec] = (),
    ) -> Ticket | None:
        """What the call must pass, without taking anything yet (no Redis, no database but a first read of the
        workspace's limits); None when nothing limits it. Raises ModelNotAllowedError.

        `fallbacks`: the other models the call may end on (an alias's targets); a budget holds the dearest worst case
        of them all, so whichever answers is covered, and is settled at what the one that answered cost."""
        resolved = f"{provider}/{model.id}"
        key_policy = call.key.policy if call.key is not None else None
        if key_policy is not None and not key_policy.allows(requested, resolved):
            raise ModelNotAllowedError(_not_allowed(call, key_policy, requested, resolved))
        levels = await self._levels(call, key_policy)
        if not levels:
            return None
        plan = self._plan(call.workspace_id, levels, resolved, (model, *fallbacks), request)
        if plan.is_empty:
            return None
        remote = self._redis is not None and bool(plan.rates or plan.slots)
        budgets_here = all(self._has_room(check) for check in plan.budgets)
        return Ticket(plan, levels, is_at_once=not remote and budgets_here)

    async def take(self, call: GovernedCall, ticket: Ticket) -> Admission:
        """Take what `ticket` plans, or raise RateLimitedError or BudgetExceededError; the answer's headers are
        left on `call` either way. Once it returns, the Admission must be finished."""
        return self._admission(call, ticket, await self._take(ticket.plan))

    def take_at_once(self, call: GovernedCall, ticket: Ticket) -> Admission:
        """`take`, for a ticket whose checks are all in this process (`is_at_once`, with no await since `plan`):
        nothing to wait for."""
        assert ticket.is_at_once
        plan = ticket.plan
        holds = [self._hold_now(check, plan) for check in plan.budgets]
        admitted = self._take_here(replace(plan, budgets=()))
        if isinstance(admitted, Refusal):
            self._release(holds)
            return self._admission(call, ticket, admitted)
        return self._admission(call, ticket, Admitted(plan, holds=holds, readings=admitted.readings))

    def _admission(self, call: GovernedCall, ticket: Ticket, admitted: Admitted | Refusal) -> Admission:
        call.headers = _headers(admitted, ticket.plan)
        if isinstance(admitted, Refusal):
            raise _refused(admitted, ticket.levels, self._clock())
        return Admission(self, admitted)

    async def _levels(self, call: GovernedCall, key_policy: KeyPolicy | None) -> list[_Level]:
        levels = []
        if key_policy is not None and key_policy.is_limited and call.key is not None:
            levels.append(_Level("key", call.key.api_key_id, f"API key {call.key.name!r}", key_policy))
        workspace = await self.policies.get(call.workspace_id)
        if workspace.is_limited:
            levels.append(_Level("workspace", call.workspace_id, "this workspace", workspace))
        return levels

    def _plan(
        self, workspace_id: str, levels: list[_Level], resolved: str, models: Sequence[ModelSpec], request: object
    ) -> Plan:
        estimate = CallEstimate(models[0], request)
        budgets, rates, slots = [], [], []
        now = self._clock()
        for level in levels:
            limits = level.limits
            if limits.budget is not None:
                budgets.append(self._budget_check(workspace_id, level, limits.budget, models, estimate, now))
            if limits.requests_per_minute is not None:
                rates.append(RateCheck(level.level, level.scope, "requests", limits.requests_per_minute, 1))
            if limits.tokens_per_minute is not None:
                rates.append(RateCheck(level.level, level.scope, "tokens", limits.tokens_per_minute, _tokens(estimate)))
            if limits.max_concurrent_requests is not None:
                slots.append(SlotCheck(level.level, level.scope, limits.max_concurrent_requests))
        call_id = f"gov_{_PROCESS}{next(_numbers):x}"
        return Plan(call_id, workspace_id, resolved, tuple(budgets), tuple(rates), tuple(slots))

    def _budget_check(
        self,
        workspace_id: str,
        level: _Level,
        budget: Budget,
        models: Sequence[ModelSpec],
        estimate: CallEstimate,
        now: datetime,
    ) -> BudgetCheck:
        for model in models:
            pricing = model.pricing
            if pricing is not None and pricing.currency != budget.currency:
                raise ModelNotAllowedError(
                    f"the budget of {level.label} is in {budget.currency}, and {model.id} is priced in "
                    f"{pricing.currency}: it cannot be counted against the budget"
                )
        amount = _worst_units(models, estimate, exact=False)
        scope = "workspace" if level.level == "workspace" else f"key:{level.scope}"
        demand = BudgetDemand(workspace_id, meter_name(scope, budget.window, now), to_units(budget.limit), amount)
        exact = None if amount is None else lambda: _worst_units(models, estimate, exact=True) or 1
        return BudgetCheck(level.level, budget, demand, exact)

    # --- budgets from leases ------------------------------------------------------------------------------------

    def _has_room(self, check: BudgetCheck) -> bool:
        demand = check.demand
        return demand.amount is not None and self._leases.has_room(_lease_key(demand), demand.amount)

    def _hold_now(self, check: BudgetCheck, plan: Plan) -> BudgetHold:
        held = self._leases.try_hold(_lease_key(check.demand), check.demand.amount or 0, check.exact)
        assert held is not None  # `plan` saw room, and nothing ran since
        return _call_hold(held, plan)

    async def _hold_budgets(self, plan: Plan) -> list[BudgetHold]:
        """A hold on every budget of the call, from leases; BudgetRefused (nothing kept) when one cannot cover it."""
        holds: list[BudgetHold] = []
        try:
            for check in plan.budgets:
                demand = check.demand
                assert demand.amount is not None
                key = _lease_key(demand)
                held = self._leases.try_hold(key, demand.amount, check.exact)
                if held is None:
                    try:
                        held = await self._leases.hold(key, demand.amount, refine=check.exact)
                    except BudgetRefused:
                        exact = check.exact() if check.exact is not None else demand.amount
                        if exact >= demand.amount:
                            raise
                        held = await self._leases.hold(key, exact)  # the bound did not fit; the count may
                holds.append(_call_hold(held, plan))
        except BaseException:
            self._release(holds)
            raise
        return holds

    def _release(self, holds: Sequence[BudgetHold]) -> None:
        for hold in holds:
            if hold.lease is not None:
                self._leases.release(hold.lease)

    async def _renew_budget(self, key: BudgetKey, amount: int | None, minimum: int, block: int) -> Granted[BudgetHold]:
        workspace_id, meter, limit = key
        demand = BudgetDemand(workspace_id, meter, limit, amount)
        lease_id = f"gbl_{_PROCESS}{next(_numbers):x}"
        if self._redis is not None:
            hold = await self._redis.lease_budget(demand, block, reservation_id=lease_id)
        else:
            hold = await self._sql.lease(demand, block, reservation_id=lease_id)
        return Granted(hold, hold.amount, used=hold.used)

    def _give_back_budget(self, hold: BudgetHold, granted: int, spent: int) -> None:
        if self._redis is not None:
            self._redis.close_budget_lease(hold, spent)
        else:
            self._sql.close(hold, "settle" if spent else "release", spent)

    def _take_here(self, plan: Plan) -> Admitted | Refusal:
        readings, refusal = self._local.admit(plan.call_id, plan.rates, plan.slots)
        return Admitted(plan, readings=readings) if refusal is None else refusal

    async def _take(self, plan: Plan) -> Admitted | Refusal:
        if plan.budgets and all(check.demand.amount is not None for check in plan.budgets):
            return await self._take_leased(plan)
        if self._redis is not None:
            return await self._redis.admit(plan)
        admitted = self._take_here(plan)
        if isinstance(admitted, Refusal):
            return admitted
        readings = admitted.readings
        if plan.budgets:
            try:
                admitted.holds = await self._sql.reserve(
                    [check.demand for check in plan.budgets], reservation_id=plan.call_id, model=plan.model
                )
            except BaseException as exc:
                self._local.finish(plan.call_id, [(rate, rate.cost) for rate in plan.rates], plan.slots)
                if isinstance(exc, BudgetRefused):
                    check = next(c for c in plan.budgets if c.demand is exc.demand)
                    return Refusal(check, None, used=exc.used, readings=tuple(readings))
                raise
        return admitted

    async def _take_leased(self, plan: Plan) -> Admitted | Refusal:
        """Budgets from leases first (a spent budget is the reason to give), then rates and slots."""
        try:
            holds = await self._hold_budgets(plan)
        except BudgetRefused as exc:
            check = next(c for c in plan.budgets if c.demand.meter == exc.demand.meter)
            return Refusal(check, None, used=exc.used)
        rest = replace(plan, budgets=())
        try:
            if rest.is_empty:
                taken: Admitted | Refusal = Admitted(rest)
            elif self._redis is not None:
                taken = await self._redis.admit(rest)
            else:
                taken = self._take_here(rest)
        except BaseException:
            self._release(holds)
            raise
        if isinstance(taken, Refusal):
            self._release(holds)
            return taken
        return Admitted(plan, holds=holds, readings=taken.readings)

    def _finish(self, admitted: Admitted, usage: Usage | None) -> None:
        plan = admitted.plan
        used_tokens = usage.total_tokens if usage is not None else 0
        refunds = [(rate, rate.cost - used_tokens) for rate in plan.rates if rate.kind == "tokens"]
        actual = None if usage is None else to_units(usage.total_price)
        for hold in admitted.holds:
            if hold.lease is not None:
                if actual is None:
                    self._leases.release(hold.lease)
                else:
                    self._leases.settle(hold.lease, actual)
        if self._redis is not None:
            self._redis.finish(admitted, refunds, actual)
            return
        self._local.finish(plan.call_id, refunds, plan.slots)
        for hold in admitted.holds:
            if hold.lease is None:
                self._sql.close(hold, "release" if actual is None else "settle", actual)

    async def budgets(self, workspace_id: str, budgets: Sequence[tuple[str, Budget]]) -> list[BudgetStatus]:
        """Each budget's current period, for `(scope, budget)` pairs: `key:<id>` or `workspace`."""
        now = self._clock()
        meters = [budget_meter(scope, budget, now) for scope, budget in budgets]
        spent = await self.spend(workspace_id, meters)
        return [budget_status(budget, spent[meter], now) for (_, budget), meter in zip(budgets, meters, strict=True)]

    async def spend(self, workspace_id: str, meters: list[str]) -> dict[str, int]:
        """What each budget period has spent, reservations in flight included, in micro-units (what this process's
        leases hold and no call has taken is not counted)."""
        if self._redis is not None:
            counted = await self._redis.spend(workspace_id, meters)
        else:
            stored = await stored_spend(self._db, workspace_id, meters)
            counted = {meter: stored.get(meter, 0) + self._writer.queued_delta(workspace_id, meter) for meter in meters}
        unused: dict[str, int] = {}
        for key in self._leases.held_keys():
            if key[0] == workspace_id:
                unused[key[1]] = unused.get(key[1], 0) + self._leases.unused(key)
        return {meter: used - unused.get(meter, 0) for meter, used in counted.items()}


class Admission:
    """What one call took; `finish` it once the call is over (the usage it reported, or None when it failed)."""

    __slots__ = ("_admitted", "_finished", "_governor")

    def __init__(self, governor: Governor, admitted: Admitted) -> None:
        self._governor = governor
        self._admitted = admitted
        self._finished = False

    def finish(self, usage: Usage | None) -> None:
        """Queued, never awaited: Redis is told within its batch interval, the database within its ledger's."""
        if self._finished:
            return
        self._finished = True
        self._governor._finish(self._admitted, usage)


def _lease_key(demand: BudgetDemand) -> BudgetKey:
    return (demand.workspace_id, demand.meter, demand.limit)


def _call_hold(held: Hold[BudgetKey, BudgetHold], plan: Plan) -> BudgetHold:
    lease = held.lease.handle
    return BudgetHold(lease.workspace_id, lease.meter, lease.reservation_id, plan.model, held.amount, held.used, held)


def _worst_units(models: Sequence[ModelSpec], estimate: CallEstimate, *, exact: bool) -> int | None:
    """The dearest model's worst case in micro-units (at least 1: a free call still needs a budget not spent);
    None when nothing bounds it."""
    price: Decimal | None = Decimal(0)
    for model in models:
        worst = worst_case_price(estimate if model is estimate.model else estimate.for_model(model), exact=exact)
        price = None if price is None or worst is None else max(price, worst)
    return None if price is None else max(to_units(price), 1)


def _tokens(estimate: CallEstimate) -> int:
    """A call's charge against tokens per minute, as OpenAI counts it: the prompt and max_tokens when given (the
    real usage corrects it when the call ends)."""
    request = estimate.request
    answer = request.max_tokens if isinstance(request, ChatRequest) and request.max_tokens else 0
    return estimate.input_tokens + answer


def _not_allowed(call: GovernedCall, policy: KeyPolicy, requested: str, resolved: str) -> str:
    name = call.key.name if call.key is not None else ""
    allowed = ", ".join((policy.allowed_models or ())[:10])
    asked = requested if requested == resolved else f"{requested} ({resolved})"
    return f"the policy of API key {name!r} does not allow {asked}; it allows: {allowed}"


def _refused(refusal: Refusal, levels: list[_Level], now: datetime) -> Exception:
    check = refusal.check
    label = next(level.label for level in levels if level.level == check.level)
    if isinstance(check, BudgetCheck):
        budget = check.budget
        spent = from_units(refusal.used).quantize(Decimal("0.01"))
        ends = period_end(budget.window, now)
        when = f"it resets at {ends:%Y-%m-%d %H:%M} UTC" if ends else "raise the budget to continue"
        period = "" if budget.window == "none" else f"{budget.window} "
        return BudgetExceededError(
            f"the {period}budget of {label} ({budget.limit} {budget.currency}) cannot cover this call: {spent} "
            f"{budget.currency} is spent or held by calls in flight; {when}"
        )
    retry_s = None if refusal.retry_after_ms is None else refusal.retry_after_ms / 1000
    if isinstance(check, SlotCheck):
        return RateLimitedError(
            f"{label} allows {check.limit} concurrent requests, and that many are running; try again shortly",
            retry_after_s=retry_s,
        )
    assert isinstance(check, RateCheck)
    if check.cost > check.capacity:
        return RateLimitedError(
            f"this call needs {check.cost:,} tokens (its prompt and max_tokens), more than the {check.capacity:,} "
            f"tokens per minute {label} allows; lower max_tokens or shorten the prompt"
        )
    return RateLimitedError(
        f"{label} is limited to {check.capacity:,} {check.kind} per minute; try again in "
        f"{duration(refusal.retry_after_ms or 0)}",
        retry_after_s=retry_s,
    )


def _headers(outcome: Admitted | Refusal, plan: Plan) -> list[tuple[bytes, bytes]]:
    headers = rate_limit_headers(outcome.readings)
    budgets: list[tuple[BudgetCheck, int]] = []  # (check, used after the call's reservation)
    if isinstance(outcome, Admitted):
        budgets = [(check, hold.used) for check, hold in zip(plan.budgets, outcome.holds, strict=True)]
    elif isinstance(outcome.check, BudgetCheck):
        budgets = [(outcome.check, outcome.check.demand.limit)]
    if budgets:
        check, used = min(budgets, key=lambda item: item[0].demand.limit - item[1])
        remaining = from_units(max(check.demand.limit - used, 0))
        headers.append((b"x-modelyard-budget-remaining", f"{remaining.normalize():f} {check.budget.currency}".encode()))
        soft = [
            check.level
            for check, used in budgets
            if check.budget.soft_limit is not None and used >= to_units(check.budget.soft_limit)
        ]
        if soft:
            headers.append((b"x-modelyard-budget-soft-limit-reached", ", ".join(soft).encode()))
    return headers
