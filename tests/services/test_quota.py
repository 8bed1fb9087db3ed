"""Hosted quota on SQLite and PostgreSQL, counted by the database or by Redis: every test runs on all four."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis
from sqlalchemy import select

from modelyard.catalog import default_catalog
from modelyard.errors import HostedQuotaExceededError, InvalidRequestError, ModelNotFoundError, NotFoundError
from modelyard.runtime import Runtime, tokenizer
from modelyard.services.context import Services
from modelyard.services.hosted import HostedConfig, HostedProvider
from modelyard.services.quota import CallEstimate, Reservation
from modelyard.services.workspaces import WorkspaceView
from modelyard.store.tables import HostedQuota
from modelyard.types import ChatRequest, Message
from tests.support import SECRET, make_settings, redis_url, require_redis
from tests.support.sql import sql_statements as database_statements

LIMIT = 200


def _config(*providers: HostedProvider) -> HostedConfig:
    return HostedConfig(providers={p.provider: p for p in providers})


OPENAI = HostedProvider(
    "openai", {"openai_api_key": SECRET}, "trial", "times", LIMIT, models=frozenset({"gpt-4.1-mini", "gpt-4.1"})
)
DEEPSEEK = HostedProvider("deepseek", {"api_key": SECRET}, "paid", "tokens", 1000)
MISTRAL = HostedProvider("mistralai", {"api_key": SECRET}, "trial", "credits", 10, credits={"mistral-large-latest": 3})
GROQ = HostedProvider("groq", {"api_key": SECRET}, "free", "times", -1)
MOONSHOT = HostedProvider("moonshot", {"api_key": SECRET}, "free", "tokens", -1)
HI = ChatRequest(messages=(Message.user("Hi"),))
PROMPT = tokenizer.count_prompt(HI)


def chat_estimate(max_tokens: int | None) -> CallEstimate:
    """A deepseek chat call saying Hi: PROMPT tokens, plus max_tokens or the model's output limit."""
    model = next(m for m in default_catalog().get("deepseek").models if m.id == "deepseek-v4-flash")
    return CallEstimate(model, ChatRequest(messages=HI.messages, max_tokens=max_tokens))


@pytest.fixture
def hosted() -> HostedConfig:
    return _config(OPENAI, DEEPSEEK, MISTRAL, GROQ)


@pytest.fixture(params=["database-counter", "redis-counter"])
def counter(request: pytest.FixtureRequest) -> str | None:
    """The Redis URL when Redis counts the quota, None when the database does."""
    if request.param == "redis-counter":
        require_redis()
        return redis_url()
    return None


@pytest.fixture
async def open_services(
    database: tuple[str, str | None], tmp_path: Path, runtime: Runtime, counter: str | None
) -> AsyncIterator[Any]:
    """Start Services on the test's database (as many as a test wants: replicas); close them and clean Redis."""
    backend, schema = database
    started: list[Services] = []
    workspaces: set[str] = set()  # every one created, deleted ones too: their Redis keys outlive them

    async def open_one(config: HostedConfig) -> Services:
        services = Services(make_settings(tmp_path, backend, schema, redis_url=counter), runtime=runtime, hosted=config)
        await services.start()
        started.append(services)
        create = services.workspaces.create

        async def create_and_remember(name: str) -> WorkspaceView:
            view = await create(name)
            workspaces.add(view.id)
            return view

        services.workspaces.create = create_and_remember  # type: ignore[method-assign]
        return services

    yield open_one
    for services in started:
        await services.close()
    if counter is not None and workspaces:
        client = redis.from_url(counter)
        try:
            for workspace_id in workspaces:
                async for key in client.scan_iter(match=f"modelyard:quota:{{{workspace_id}:*"):
                    await client.delete(key)
        finally:
            await client.aclose()


@pytest.fixture
async def services(open_services: Any, hosted: HostedConfig) -> Services:
    return await open_services(hosted)


async def balanced(services: Services, workspace_id: str, provider: str) -> int:
    """Flush, check that `used` equals the ledger's sum (in the database and in the counter), and return it."""
    await services.quota.flush()
    ledger_sum = sum(
        entry.amount for entry in await services.quota.ledger(workspace_id=workspace_id, provider=provider)
    )
    (status,) = [s for s in await services.quota.status(workspace_id=workspace_id) if s.provider == provider]
    async with services.db() as session:
        stored = await session.scalar(
            select(HostedQuota.used).where(HostedQuota.workspace_id == workspace_id, HostedQuota.provider == provider)
        )
    assert ledger_sum == stored == status.used
    return ledger_sum


async def reserve(services: Services, workspace_id: str, provider: str = "openai", **kwargs: Any) -> Reservation:
    model = {"openai": "gpt-4.1-mini", "deepseek": "deepseek-v4-flash", "mistralai": "mistral-small-latest"}.get(
        provider, "llama-4"
    )
    kwargs.setdefault("model", model)
    return await services.quota.reserve(workspace_id=workspace_id, provider=provider, **kwargs)


# --- granting -----------------------------------------------------------------------------------------------------


async def test_a_new_workspace_gets_its_quota_on_every_hosted_provider(services: Services, workspace: str) -> None:
    statuses = await services.quota.status(workspace_id=workspace)

    assert [(s.provider, s.quota_type, s.unit, s.limit, s.used, s.remaining, s.is_exhausted) for s in statuses] == [
        ("openai", "trial", "times", 200, 0, 200, False),
        ("deepseek", "paid", "tokens", 1000, 0, 1000, False),
        ("mistralai", "trial", "credits", 10, 0, 10, False),
        ("groq", "free", "times", -1, 0, None, False),
    ]


async def test_start_grants_quota_on_a_provider_the_config_gained_to_existing_workspaces(open_services: Any) -> None:
    before = await open_services(_config(OPENAI))
    first = (await before.workspaces.create("One")).id
    second = (await before.workspaces.create("Two")).id
    await before.quota.settle(await reserve(before, first))
    await before.quota.flush()

    after = await open_services(_config(OPENAI, DEEPSEEK))

    for workspace_id, used in ((first, 1), (second, 0)):
        statuses = {s.provider: s for s in await after.quota.status(workspace_id=workspace_id)}
        assert statuses["openai"].used == used  # an existing grant is left as it is
        assert (statuses["deepseek"].unit, statuses["deepseek"].limit, statuses["deepseek"].used) == ("tokens", 1000, 0)


# --- arithmetic ---------------------------------------------------------------------------------------------------


async def test_a_times_quota_spends_one_per_call_whatever_the_tokens(services: Services, workspace: str) -> None:
    reservation = await reserve(services, workspace)
    assert (reservation.amount, reservation.unit, reservation.is_replay) == (1, "times", False)

    await services.quota.settle(reservation, actual=4321)  # tokens mean nothing to a times quota

    assert await balanced(services, workspace, "openai") == 1
    ledger = await services.quota.ledger(workspace_id=workspace)
    assert [(e.kind, e.amount, e.reservation_id, e.model) for e in ledger] == [
        ("reserve", 1, reservation.id, "gpt-4.1-mini"),
        ("settle", 0, reservation.id, "gpt-4.1-mini"),
    ]


async def test_a_token_quota_reserves_the_estimate_and_settles_the_real_usage(
    services: Services, workspace: str
) -> None:
    reservation = await reserve(services, workspace, "deepseek", estimate=chat_estimate(300))
    assert (reservation.amount, reservation.is_capped) == (PROMPT + 300, False)

    await services.quota.settle(reservation, actual=250)

    assert await balanced(services, workspace, "deepseek") == 250
    ledger = await services.quota.ledger(workspace_id=workspace, provider="deepseek")
    assert [(e.kind, e.amount) for e in ledger] == [("reserve", PROMPT + 300), ("settle", 250 - PROMPT - 300)]


async def test_a_token_estimate_without_max_tokens_counts_the_models_output_limit(
    services: Services, workspace: str
) -> None:
    estimate = chat_estimate(None)

    reservation = await reserve(services, workspace, "deepseek", estimate=estimate)

    assert estimate.tokens == PROMPT + 393_216  # deepseek-v4-flash's max_output_tokens
    assert (reservation.amount, reservation.is_capped) == (1000, True)  # capped by what remains


async def test_a_token_quota_reserves_what_remains_and_the_overshoot_is_one_calls_excess(
    services: Services, workspace: str
) -> None:
    first = await reserve(services, workspace, "deepseek", estimate=chat_estimate(900))
    await services.quota.settle(first, actual=990)  # 990 - (PROMPT + 900) beyond its reservation
    await services.quota.flush()
    last = await reserve(services, workspace, "deepseek", estimate=chat_estimate(100))
    assert (last.amount, last.is_capped) == (10, True)  # only 10 remained
    await services.quota.settle(last, actual=400)  # a provider that ignored the lowered max_tokens

    assert await balanced(services, workspace, "deepseek") == 1390
    (status,) = [s for s in await services.quota.status(workspace_id=workspace) if s.provider == "deepseek"]
    assert (status.remaining, status.is_exhausted) == (0, True)
    with pytest.raises(HostedQuotaExceededError):
        await reserve(services, workspace, "deepseek")


async def test_a_credits_quota_charges_each_models_credits(services: Services, workspace: str) -> None:
    large = await reserve(services, workspace, "mistralai", model="mistral-large-latest")
    small = await reserve(services, workspace, "mistralai", model="mistral-small-latest")
    await services.quota.settle(large, actual=10_000)
    await services.quota.settle(small)

    assert (large.amount, small.amount) == (3, 1)
    assert await balanced(services, workspace, "mistralai") == 4


async def test_a_reservation_larger_than_what_is_left_is_refused(services: Services, workspace: str) -> None:
    for _ in range(3):
        await reserve(services, workspace, "mistralai", model="mistral-large-latest")  # 9 of 10

    with pytest.raises(HostedQuotaExceededError):
        await reserve(services, workspace, "mistralai", model="mistral-large-latest")
    await reserve(services, workspace, "mistralai", model="mistral-small-latest")  # the last credit still fits

    assert await balanced(services, workspace, "mistralai") == 10


async def test_a_token_quota_without_an_estimate_reserves_all_that_remains(
    open_services: Any, hosted: HostedConfig
) -> None:
    services = await open_services(_config(*hosted.providers.values(), MOONSHOT))
    workspace = (await services.workspaces.create("Acme")).id
    await services.quota.settle(await reserve(services, workspace, "deepseek", amount=300))

    everything = await reserve(services, workspace, "deepseek")
    unlimited = await reserve(services, workspace, "moonshot", model="kimi-k2.6")

    assert (everything.amount, everything.is_capped) == (700, True)
    assert (unlimited.amount, unlimited.is_capped) == (1, False)  # nothing to cap: settled with the real usage
    await services.quota.settle(unlimited, actual=5_000)
    assert await balanced(services, workspace, "moonshot") == 5_000


async def test_an_unlimited_quota_counts_but_never_refuses(services: Services, workspace: str) -> None:
    await reserve(services, workspace, "groq", amount=10**9)
    await reserve(services, workspace, "groq", amount=10**9)

    assert await balanced(services, workspace, "groq") == 2 * 10**9
    (status,) = [s for s in await services.quota.status(workspace_id=workspace) if s.provider == "groq"]
    assert (status.remaining, status.is_exhausted) == (None, False)


async def test_exhausted_quota_error_names_the_provider_the_quota_type_and_the_limit(
    services: Services, workspace: str
) -> None:
    await reserve(services, workspace, amount=LIMIT)

    with pytest.raises(HostedQuotaExceededError) as caught:
        await reserve(services, workspace)

    assert str(caught.value) == "hosted provider openai: the trial quota of 200 times is used up"


# --- release and settle --------------------------------------------------------------------------------------------


async def test_release_gives_the_quota_back(services: Services, workspace: str) -> None:
    spent = await reserve(services, workspace, amount=LIMIT)
    with pytest.raises(HostedQuotaExceededError):
        await reserve(services, workspace)

    await services.quota.release(spent)
    await services.quota.flush()  # without Redis, released quota is spendable after the next batch

    again = await reserve(services, workspace)
    assert await balanced(services, workspace, "openai") == 1
    ledger = await services.quota.ledger(workspace_id=workspace)
    assert [(e.kind, e.amount, e.reservation_id) for e in ledger] == [
        ("reserve", 200, spent.id),
        ("release", -200, spent.id),
        ("reserve", 1, again.id),
    ]


async def test_a_reservation_closes_once_whatever_is_called_after(services: Services, workspace: str) -> None:
    settled = await reserve(services, workspace, "deepseek")
    await services.quota.settle(settled, actual=50)
    await services.quota.settle(settled, actual=70)
    await services.quota.release(settled)
    await services.quota.flush()
    await services.quota.release(settled)  # after the first close was written, too
    released = await reserve(services, workspace, "deepseek")
    await services.quota.release(released)
    await services.quota.settle(released, actual=500)

    assert await balanced(services, workspace, "deepseek") == 50
    kinds = Counter((e.reservation_id, e.kind) for e in await services.quota.ledger(workspace_id=workspace))
    assert kinds == {
        (settled.id, "reserve"): 1,
        (settled.id, "settle"): 1,
        (released.id, "reserve"): 1,
        (released.id, "release"): 1,
    }


async def test_settle_and_release_never_write_to_the_database_on_the_calls_path(
    services: Services, workspace: str
) -> None:
    first = await reserve(services, workspace)
    second = await reserve(services, workspace)

    with database_statements(services) as statements:
        await services.quota.settle(first)
        await services.quota.release(second)

    assert statements == []
    assert await balanced(services, workspace, "openai") == 1


async def test_settle_and_release_negative_or_invalid_input_is_refused(services: Services, workspace: str) -> None:
    reservation = await reserve(services, workspace, "deepseek")

    with pytest.raises(InvalidRequestError):
        await services.quota.settle(reservation, actual=-1)
    with pytest.raises(InvalidRequestError):
        await reserve(services, workspace, amount=0)
    with pytest.raises(InvalidRequestError):
        await reserve(services, workspace, idempotency_key="")
    with pytest.raises(InvalidRequestError):
        await reserve(services, workspace, idempotency_key="k" * 256)


async def test_reserve_refuses_a_provider_or_model_the_operator_does_not_host(
    services: Services, workspace: str
) -> None:
    with pytest.raises(NotFoundError):
        await reserve(services, workspace, "zhinao", model="360gpt-pro")
    with pytest.raises(ModelNotFoundError):
        await reserve(services, workspace, model="gpt-4o")  # openai is hosted for two models only

    assert await balanced(services, workspace, "openai") == 0


# --- the race ------------------------------------------------------------------------------------------------------


async def test_concurrent_token_estimates_fill_the_quota_exactly_and_only_the_last_is_capped(
    services: Services, workspace: str
) -> None:
    estimate = chat_estimate(150 - PROMPT)  # 150 tokens: six fit in 1000, the seventh gets the last 100

    outcomes = await asyncio.gather(
        *(reserve(services, workspace, "deepseek", estimate=estimate) for _ in range(300)), return_exceptions=True
    )

    won = [o for o in outcomes if isinstance(o, Reservation)]
    assert all(isinstance(o, Reservation | HostedQuotaExceededError) for o in outcomes), outcomes[:3]
    assert sorted((r.amount, r.is_capped) for r in won) == [(100, True)] + [(150, False)] * 6
    assert await balanced(services, workspace, "deepseek") == 1000


async def test_500_concurrent_calls_on_a_trial_quota_of_200_spend_exactly_200(
    services: Services, workspace: str
) -> None:
    outcomes = await asyncio.gather(*(reserve(services, workspace) for _ in range(500)), return_exceptions=True)

    won = [o for o in outcomes if isinstance(o, Reservation)]
    refused = [o for o in outcomes if isinstance(o, HostedQuotaExceededError)]
    assert (len(won), len(refused)) == (200, 300), [o for o in outcomes if not isinstance(o, Reservation)][:3]
    assert len({r.id for r in won}) == 200
    assert await balanced(services, workspace, "openai") == 200
    ledger = await services.quota.ledger(workspace_id=workspace)
    assert {e.reservation_id for e in ledger} == {r.id for r in won}


async def test_two_replicas_spending_one_quota_concurrently_never_pass_the_limit(
    open_services: Any, hosted: HostedConfig
) -> None:
    one = await open_services(hosted)
    two = await open_services(hosted)
    workspace = (await one.workspaces.create("Shared")).id

    outcomes = await asyncio.gather(
        *(reserve(replica, workspace) for _ in range(150) for replica in (one, two)), return_exceptions=True
    )

    won = [o for o in outcomes if isinstance(o, Reservation)]
    assert len(won) == 200
    assert all(isinstance(o, Reservation | HostedQuotaExceededError) for o in outcomes)
    await one.quota.flush()
    assert await balanced(two, workspace, "openai") == 200


async def test_concurrent_settles_releases_and_reservations_keep_the_ledger_balanced(
    services: Services, workspace: str
) -> None:
    async def call(index: int) -> None:
        try:
            reservation = await reserve(services, workspace, "deepseek", amount=1)
        except HostedQuotaExceededError:
            return
        await asyncio.sleep(0)
        if index % 3 == 0:
            await services.quota.release(reservation)
        else:
            await services.quota.settle(reservation, actual=index % 7)

    await asyncio.gather(*(call(i) for i in range(300)))

    used = await balanced(services, workspace, "deepseek")
    ledger = await services.quota.ledger(workspace_id=workspace, provider="deepseek")
    opened = {e.reservation_id for e in ledger if e.kind == "reserve"}
    closed = Counter(e.reservation_id for e in ledger if e.kind != "reserve")
    assert set(closed) == opened
    assert set(closed.values()) == {1}
    assert used == sum(i % 7 for i in range(300) if i % 3)


# --- idempotency ---------------------------------------------------------------------------------------------------


async def test_a_repeated_idempotency_key_returns_the_first_reservation_without_spending(
    services: Services, workspace: str
) -> None:
    first = await reserve(services, workspace, idempotency_key="req-1")
    repeat = await reserve(services, workspace, idempotency_key="req-1")
    other = await reserve(services, workspace, idempotency_key="req-2")

    assert (repeat.id, repeat.amount, repeat.is_replay) == (first.id, first.amount, True)
    assert not other.is_replay
    assert await balanced(services, workspace, "openai") == 2


async def test_a_replay_is_the_first_calls_to_close_so_settle_and_release_ignore_it(
    services: Services, workspace: str
) -> None:
    first = await reserve(services, workspace, "deepseek", estimate=chat_estimate(None), idempotency_key="req-1")
    repeat = await reserve(services, workspace, "deepseek", idempotency_key="req-1")
    assert (repeat.id, repeat.amount, repeat.is_replay) == (first.id, 1000, True)  # what the first set aside

    await services.quota.release(repeat)
    await services.quota.settle(repeat, actual=999)
    await services.quota.settle(first, actual=30)

    assert await balanced(services, workspace, "deepseek") == 30


async def test_a_repeated_idempotency_key_is_a_replay_even_when_the_quota_is_exhausted(
    services: Services, workspace: str
) -> None:
    first = await reserve(services, workspace, amount=LIMIT, idempotency_key="req-1")

    repeat = await reserve(services, workspace, idempotency_key="req-1")

    assert (repeat.id, repeat.is_replay) == (first.id, True)
    with pytest.raises(HostedQuotaExceededError):
        await reserve(services, workspace, idempotency_key="req-2")


async def test_concurrent_calls_with_one_idempotency_key_spend_once(services: Services, workspace: str) -> None:
    outcomes = await asyncio.gather(*(reserve(services, workspace, idempotency_key="req-1") for _ in range(50)))

    assert len({r.id for r in outcomes}) == 1
    assert sum(not r.is_replay for r in outcomes) == 1
    assert await balanced(services, workspace, "openai") == 1


async def test_an_idempotency_key_is_scoped_to_its_workspace_and_provider(services: Services, workspace: str) -> None:
    other = (await services.workspaces.create("Other")).id

    mine = await reserve(services, workspace, idempotency_key="req-1")
    theirs = await reserve(services, other, idempotency_key="req-1")
    tokens = await reserve(services, workspace, "deepseek", idempotency_key="req-1")

    assert not any(r.is_replay for r in (mine, theirs, tokens))
    assert len({mine.id, theirs.id, tokens.id}) == 3


# --- tenancy -------------------------------------------------------------------------------------------------------


async def test_one_workspace_spending_its_quota_leaves_anothers_alone(services: Services, workspace: str) -> None:
    other = (await services.workspaces.create("Other")).id
    await reserve(services, workspace, amount=LIMIT)

    with pytest.raises(HostedQuotaExceededError):
        await reserve(services, workspace)
    mine = await reserve(services, other)

    assert await balanced(services, other, "openai") == 1
    assert await balanced(services, workspace, "openai") == LIMIT
    assert [e.reservation_id for e in await services.quota.ledger(workspace_id=other)] == [mine.id]
    assert mine.id not in {e.reservation_id for e in await services.quota.ledger(workspace_id=workspace)}


async def test_an_unknown_workspace_has_no_quota(services: Services) -> None:
    with pytest.raises(NotFoundError):
        await reserve(services, "ws_nope")
    assert await services.quota.status(workspace_id="ws_nope") == []
    assert await services.quota.ledger(workspace_id="ws_nope") == []


async def test_queued_rows_of_a_deleted_workspace_are_dropped_without_blocking_others(
    services: Services, workspace: str
) -> None:
    other = (await services.workspaces.create("Other")).id
    doomed = await reserve(services, workspace)
    kept = await reserve(services, other)
    await services.quota.settle(doomed)
    await services.quota.settle(kept)

    await services.workspaces.delete(workspace)

    assert await balanced(services, other, "openai") == 1
    assert [e.kind for e in await services.quota.ledger(workspace_id=other)] == ["reserve", "settle"]


# --- Redis ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("counter", ["redis-counter"], indirect=True)
async def test_with_redis_reserve_settle_and_release_never_touch_the_database(
    services: Services, workspace: str
) -> None:
    await services.quota.release(await reserve(services, workspace))  # the first call loads the counter

    with database_statements(services) as statements:
        settled = await reserve(services, workspace, "openai", idempotency_key="req-1")
        await reserve(services, workspace, "openai", idempotency_key="req-1")
        await services.quota.settle(settled)
        await services.quota.release(await reserve(services, workspace))
        with pytest.raises(HostedQuotaExceededError):
            await reserve(services, workspace, amount=LIMIT)

    assert statements == []
    assert await balanced(services, workspace, "openai") == 1


@pytest.mark.parametrize("counter", ["redis-counter"], indirect=True)
async def test_a_lost_redis_counter_is_reloaded_from_the_database_and_what_is_queued(
    services: Services, workspace: str, counter: str
) -> None:
    await reserve(services, workspace, amount=150)
    await services.quota.flush()
    await reserve(services, workspace, amount=40)  # queued, not yet in the database
    client = redis.from_url(counter)
    try:
        await client.delete(f"modelyard:quota:{{{workspace}:openai}}")  # Redis restarted without persistence
    finally:
        await client.aclose()

    await reserve(services, workspace, amount=10)
    with pytest.raises(HostedQuotaExceededError):
        await reserve(services, workspace)

    assert await balanced(services, workspace, "openai") == LIMIT


@pytest.mark.parametrize("counter", ["redis-counter"], indirect=True)
async def test_scripts_a_restarted_redis_forgot_are_loaded_again(
    services: Services, workspace: str, counter: str
) -> None:
    await services.quota.settle(await reserve(services, workspace))
    client = redis.from_url(counter)
    try:
        await client.script_flush()  # a restart forgets every loaded script; the counters are kept here
    finally:
        await client.aclose()

    await services.quota.settle(await reserve(services, workspace))

    assert await balanced(services, workspace, "openai") == 2


@pytest.mark.parametrize("counter", ["redis-counter"], indirect=True)
async def test_an_idempotency_key_redis_forgot_spends_again_and_keeps_the_ledger_writable(
    services: Services, workspace: str, counter: str
) -> None:
    first = await reserve(services, workspace, idempotency_key="req-1")
    await services.quota.flush()
    client = redis.from_url(counter)
    try:
        await client.delete(f"modelyard:quota:{{{workspace}:openai}}:idem:req-1")  # IDEMPOTENCY_TTL_S passed
    finally:
        await client.aclose()

    again = await reserve(services, workspace, idempotency_key="req-1")

    assert not again.is_replay
    assert await balanced(services, workspace, "openai") == 2
    ledger = await services.quota.ledger(workspace_id=workspace)
    assert [(e.reservation_id, e.idempotency_key) for e in ledger] == [(first.id, "req-1"), (again.id, None)]


# --- leases (the gateway's calls: `reserve(leased=True)`) ------------------------------------------------------------


async def test_500_concurrent_leased_calls_on_a_trial_quota_of_200_spend_exactly_200(
    services: Services, workspace: str
) -> None:
    outcomes = await asyncio.gather(
        *(reserve(services, workspace, leased=True) for _ in range(500)), return_exceptions=True
    )

    won = [o for o in outcomes if isinstance(o, Reservation)]
    refused = [o for o in outcomes if isinstance(o, HostedQuotaExceededError)]
    assert (len(won), len(refused)) == (200, 300), [o for o in outcomes if not isinstance(o, Reservation)][:3]
    for reservation in won:
        await services.quota.settle(reservation)
    assert await balanced(services, workspace, "openai") == 200
    ledger = await services.quota.ledger(workspace_id=workspace)
    assert len({e.reservation_id for e in ledger}) < 200  # leases, not one reservation per call


async def test_two_replicas_sharing_one_quota_through_leases_spend_exactly_the_limit(
    open_services: Any, hosted: HostedConfig
) -> None:
    one = await open_services(hosted)
    two = await open_services(hosted)
    workspace = (await one.workspaces.create("Shared")).id

    replicas = [replica for _ in range(250) for replica in (one, two)]
    outcomes = await asyncio.gather(
        *(reserve(replica, workspace, leased=True) for replica in replicas), return_exceptions=True
    )

    won = [(replica, o) for replica, o in zip(replicas, outcomes, strict=True) if isinstance(o, Reservation)]
    assert all(isinstance(o, Reservation | HostedQuotaExceededError) for o in outcomes)
    assert len(won) == 200
    assert {replica for replica, _ in won} == {one, two}
    for number, (replica, reservation) in enumerate(won):
        if number % 2:
            await replica.quota.settle(reservation)
        else:
            await replica.quota.release(reservation)  # a failed call: its quota goes back through its lease
    await one.quota.flush()
    await two.quota.flush()
    assert await balanced(two, workspace, "openai") == 100


async def test_a_leased_calls_release_and_a_flush_give_its_quota_back(services: Services, workspace: str) -> None:
    reservations = [await reserve(services, workspace, leased=True) for _ in range(3)]
    await services.quota.release(reservations[0])
    await services.quota.settle(reservations[1])

    (status,) = [s for s in await services.quota.status(workspace_id=workspace) if s.provider == "openai"]
    assert status.used == 2  # the lease's unused part is not counted as spent

    await services.quota.settle(reservations[2])
    assert await balanced(services, workspace, "openai") == 2  # the flush settled the lease at what its calls spent
    ledger = await services.quota.ledger(workspace_id=workspace)
    assert {e.model for e in ledger} == {"*"} and sum(e.amount for e in ledger) == 2


async def test_a_leased_token_call_near_the_limit_is_capped_at_what_remains(services: Services, workspace: str) -> None:
    first = await reserve(services, workspace, "deepseek", estimate=chat_estimate(None), leased=True)
    assert (first.amount, first.is_capped) == (1000, True)  # the model's output limit: all that remains
    await services.quota.settle(first, actual=900)
    await services.quota.flush()

    last = await reserve(services, workspace, "deepseek", estimate=chat_estimate(300), leased=True)
    assert (last.amount, last.is_capped) == (100, True)
    with pytest.raises(HostedQuotaExceededError):
        await reserve(services, workspace, "deepseek", estimate=chat_estimate(300), leased=True)
    await services.quota.settle(last, actual=100)
    assert await balanced(services, workspace, "deepseek") == 1000


async def test_a_lease_left_open_by_a_dead_process_is_settled_as_reserved(
    open_services: Any, hosted: HostedConfig
) -> None:
    crashed = await open_services(hosted)
    workspace = (await crashed.workspaces.create("Crashed")).id
    await reserve(crashed, workspace, leased=True)  # its lease is never closed: the process "dies"
    await crashed.quota._writer.flush()  # what a running process would have written by then
    lease_ids = {e.reservation_id for e in await crashed.quota.ledger(workspace_id=workspace)}

    survivor = await open_services(hosted)
    survivor.quota.reconciler.stale_after_s = 0  # as if the lease's time and the calls' total timeout had passed
    assert await survivor.quota.reconcile() == len(lease_ids)

    ledger = await survivor.quota.ledger(workspace_id=workspace)
    assert {e.reservation_id for e in ledger if e.kind == "settle"} == lease_ids
    assert await balanced(survivor, workspace, "openai") == sum(e.amount for e in ledger if e.kind == "reserve")
