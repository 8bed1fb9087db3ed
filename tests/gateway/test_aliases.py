"""Model aliases through the real gateway socket (issue 16 §3): weighted spread, fallback before the first byte on 429,
5xx, timeouts and connection errors, the context-window jump, fallback across protocol families in the caller's
shape, retries within the call's budget of attempts and time, cool-downs shared by replicas and never shortened,
the headers that say what happened, `/v1/models`, and keys' allowed models; on SQLite, PostgreSQL, and PostgreSQL +
Redis with two gateway replicas.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest
import redis.asyncio as redis
from multidict import CIMultiDict

from modelyard.gateway.app import Gateway
from modelyard.gateway.metrics import Metrics
from modelyard.protocols.openai import ingress
from modelyard.runtime import Runtime
from modelyard.runtime.timeouts import Timeouts
from modelyard.services import fallback
from modelyard.services.context import Services
from modelyard.services.hosted import HostedConfig, HostedProvider
from modelyard.services.quota.budgets import from_units, to_units
from modelyard.services.quota.estimate import CallEstimate, worst_case_price
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.loopback import served
from tests.fakes.openai import FakeOpenAI
from tests.support import SECRET, eventually, make_settings, redis_url, require_postgres, require_redis, serve

DEEPSEEK = "deepseek/deepseek-flash"  # context 1,048,576
OPENAI = "openai/gpt-5.4"
OPENAI_SMALL = "openai/gpt-5.4-mini"  # context 400,000
OPENAI_SMALL_TOO = "openai/gpt-5.4-nano"  # context 400,000
CLAUDE = "anthropic/claude-haiku-5-5"
FIRST_BYTE_S = 1.0


@dataclass
class Deployment:
    replicas: list[Services]
    urls: list[str]
    workspace_id: str
    api_key: str
    deepseek: FakeOpenAI
    openai: FakeOpenAI
    claude: FakeAnthropic
    http: aiohttp.ClientSession

    @property
    def services(self) -> Services:
        return self.replicas[0]

    async def alias(self, name: str, *targets: str | tuple[str, int], **settings: Any) -> None:
        weighted = [{"model": t} if isinstance(t, str) else {"model": t[0], "weight": t[1]} for t in targets]
        await self.services.aliases.create(
            workspace_id=self.workspace_id, name=name, targets=parse(weighted), **settings
        )
        for replica in self.replicas:  # every replica has heard of it (Redis tells the second one)
            await eventually(lambda r=replica: self._knows(r, name), f"a replica to know alias {name!r}")

    async def _knows(self, replica: Services, name: str) -> bool:
        return name in (await replica.snapshots.get(self.workspace_id)).aliases

    async def chat(
        self, model: str, *, replica: int = 0, key: str | None = None, cache_ttl: int | None = None, **extra: Any
    ) -> tuple[int, CIMultiDict[str], dict[str, Any]]:
        body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], **extra}
        headers = {"Authorization": f"Bearer {key or self.api_key}"}
        if cache_ttl is not None:
            headers["x-modelyard-cache-ttl"] = str(cache_ttl)
        async with self.http.post(f"{self.urls[replica]}/v1/chat/completions", json=body, headers=headers) as response:
            return response.status, CIMultiDict(response.headers), orjson.loads(await response.read())


def parse(targets: list[dict[str, Any]]) -> Any:
    from modelyard.services.aliases import parse_targets

    return parse_targets(targets)


@pytest.fixture(params=["sqlite", "postgres", "postgres+redis"])
def setup(request: pytest.FixtureRequest) -> str:
    if request.param.startswith("postgres"):
        require_postgres()
    if request.param.endswith("redis"):
        require_redis()
    return str(request.param)


@pytest.fixture
def backend(setup: str) -> str:
    return setup.partition("+")[0]


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fallback, "BACKOFF_BASE_S", 0.02)


@pytest.fixture
async def deployment(setup: str, database: tuple[str, str | None], tmp_path: Path) -> AsyncIterator[Deployment]:
    """deepseek, openai and anthropic on three fakes; with Redis, two replicas, each with its own gateway."""
    backend, schema = database
    shared = redis_url() if setup.endswith("redis") else None
    settings = make_settings(tmp_path, backend, schema, redis_url=shared)
    async with (
        Runtime(timeouts=Timeouts(first_byte_s=FIRST_BYTE_S)) as runtime,
        served(FakeOpenAI()) as deepseek,
        served(FakeOpenAI()) as openai_fake,
        served(FakeAnthropic()) as claude,
    ):
        replicas = [Services(settings, runtime=runtime) for _ in range(2 if shared else 1)]
        for replica in replicas:
            await replica.start()
        services = replicas[0]
        workspace = (await services.workspaces.create("Aliases")).id
        for provider, values in (
            ("deepseek", {"api_key": SECRET, "endpoint_url": f"{deepseek.url}/v1"}),
            ("openai", {"openai_api_key": SECRET, "openai_api_base": openai_fake.url}),
            ("anthropic", {"anthropic_api_key": SECRET, "anthropic_api_url": claude.url}),
        ):
            await services.credentials.create(workspace_id=workspace, provider=provider, values=values, validate=False)
        _, key = await services.api_keys.create(workspace_id=workspace, name="app")
        servers = [await serve(Gateway(replica, Metrics())) for replica in replicas]
        try:
            async with aiohttp.ClientSession() as http:
                yield Deployment(
                    replicas, [url for _, _, url in servers], workspace, key, deepseek, openai_fake, claude, http
                )
        finally:
            for server, task, _ in servers:
                server.should_exit = True
                await task
            for replica in replicas:
                await replica.close()
            if shared is not None:
                client = redis.from_url(shared)
                async for name in client.scan_iter(match=f"modelyard:cool:{{{workspace}}}:*"):
                    await client.delete(name)
                await client.aclose()


def chats(fake: FakeOpenAI | FakeAnthropic) -> int:
    return sum(1 for recorded in fake.requests if recorded.method == "POST")


# --- spread and fallback ----------------------------------------------------------------------------------------


async def test_calls_spread_over_the_targets_by_weight(deployment: Deployment) -> None:
    await deployment.alias("smart", (DEEPSEEK, 3), (OPENAI, 1))

    for number in range(8):
        status, headers, body = await deployment.chat("smart", replica=number % len(deployment.urls))
        assert status == 200
        assert headers["x-modelyard-alias"] == "smart" and headers["x-modelyard-attempts"] == "1"
        assert f"{headers['x-modelyard-provider']}/{body['model']}" in (DEEPSEEK, OPENAI)

    assert (chats(deployment.deepseek), chats(deployment.openai)) == (6, 2)  # smooth weighted round-robin


async def test_a_target_of_weight_zero_only_answers_when_another_failed(deployment: Deployment) -> None:
    await deployment.alias("careful", (DEEPSEEK, 1), (OPENAI, 0))
    for _ in range(3):
        assert (await deployment.chat("careful"))[0] == 200
    assert (chats(deployment.deepseek), chats(deployment.openai)) == (3, 0)

    deployment.deepseek.fail(503, "overloaded", type="server_error")
    status, headers, _ = await deployment.chat("careful")
    assert (status, headers["x-modelyard-provider"], headers["x-modelyard-attempts"]) == (200, "openai", "2")


@pytest.mark.parametrize(
    ("status", "label"),
    [(429, "429"), (500, "500"), (503, "503")],
)
async def test_a_failure_before_the_first_byte_moves_on_to_the_next_target(
    deployment: Deployment, status: int, label: str
) -> None:
    await deployment.alias("smart", DEEPSEEK, OPENAI)
    deployment.deepseek.fail(status, "no", type="server_error" if status >= 500 else "rate_limit_error")

    answered, headers, body = await deployment.chat("smart")

    assert answered == 200 and body["object"] == "chat.completion"
    assert (headers["x-modelyard-provider"], headers["x-modelyard-model"], body["model"]) == (
        "openai",
        "gpt-5.4",
        "gpt-5.4",
    )
    assert headers["x-modelyard-attempts"] == "2"
    assert headers["x-modelyard-fallbacks"] == f"{DEEPSEEK}:{label}"


async def test_a_timeout_and_a_refused_connection_move_on_too(deployment: Deployment) -> None:
    await deployment.alias("smart", (DEEPSEEK, 1), (OPENAI, 0))
    deployment.deepseek.stall(FIRST_BYTE_S * 3)

    status, headers, _ = await deployment.chat("smart")
    assert (status, headers["x-modelyard-provider"]) == (200, "openai")
    assert headers["x-modelyard-fallbacks"] == f"{DEEPSEEK}:upstream_timeout"

    closed = f"http://127.0.0.1:{_closed_port()}/v1"
    view = (await deployment.services.credentials.list(workspace_id=deployment.workspace_id, provider="deepseek"))[0]
    await deployment.services.credentials.update(
        workspace_id=deployment.workspace_id, credential_id=view.id, values={"endpoint_url": closed}, validate=False
    )
    for replica in deployment.replicas:
        await eventually(lambda r=replica: _points_at(r, deployment.workspace_id, closed), "the new address")
    status, headers, _ = await deployment.chat("smart")
    assert (status, headers["x-modelyard-provider"]) == (200, "openai")
    assert headers["x-modelyard-fallbacks"] == f"{DEEPSEEK}:upstream_connection_error"


async def test_a_refused_request_ends_the_call_at_once(deployment: Deployment) -> None:
    await deployment.alias("smart", DEEPSEEK, OPENAI)
    deployment.deepseek.fail(400, "bad tool schema")

    status, _, body = await deployment.chat("smart")

    assert (status, body["error"]["code"]) == (400, "upstream_bad_request")
    assert chats(deployment.openai) == 0  # another model would refuse it too


async def test_a_context_length_error_jumps_to_the_first_larger_window(deployment: Deployment) -> None:
    await deployment.alias("long", OPENAI_SMALL, OPENAI_SMALL_TOO, DEEPSEEK)
    deployment.openai.fail(400, "too long", code="context_length_exceeded")

    status, headers, _ = await deployment.chat("long")

    assert (status, headers["x-modelyard-provider"], headers["x-modelyard-attempts"]) == (200, "deepseek", "2")
    assert headers["x-modelyard-fallbacks"] == f"{OPENAI_SMALL}:context_length"
    assert chats(deployment.openai) == 1  # gpt-5.4-nano has no larger window: never tried


# --- across protocol families -----------------------------------------------------------------------------------


async def test_chat_completions_fall_back_from_anthropic_to_openai_in_openai_shape(deployment: Deployment) -> None:
    await deployment.alias("mixed", CLAUDE, OPENAI)
    deployment.claude.fail(529, "overloaded_error", "Overloaded")

    async with openai.AsyncOpenAI(
        base_url=f"{deployment.urls[0]}/v1", api_key=deployment.api_key, max_retries=0
    ) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="mixed", messages=[{"role": "user", "content": "Hi"}]
        )

    completion = raw.parse()
    assert completion.choices[0].message.content and completion.model == "gpt-5.4"
    assert (raw.headers["x-modelyard-provider"], raw.headers["x-modelyard-fallbacks"]) == ("openai", f"{CLAUDE}:529")
    assert deployment.openai.last.path == "/v1/chat/completions"


async def test_chat_completions_fall_back_from_openai_to_anthropic_in_openai_shape(deployment: Deployment) -> None:
    await deployment.alias("mixed", OPENAI, CLAUDE)
    deployment.openai.fail(503, "down", type="server_error")

    status, headers, body = await deployment.chat("mixed", stream=False)

    assert (status, headers["x-modelyard-provider"], body["object"]) == (200, "anthropic", "chat.completion")
    assert body["choices"][0]["message"]["content"] == "Hello!" and body["model"] == "claude-haiku-5-5"
    assert deployment.claude.last.path == "/v1/messages"


async def test_messages_fall_back_across_families_in_anthropic_shape(deployment: Deployment) -> None:
    await deployment.alias("mixed", CLAUDE, OPENAI)
    deployment.claude.fail(500, "api_error", "Internal error")

    async with anthropic.AsyncAnthropic(base_url=deployment.urls[0], api_key=deployment.api_key, max_retries=0) as sdk:
        raw = await sdk.messages.with_raw_response.create(
            model="mixed", max_tokens=64, messages=[{"role": "user", "content": "Hi"}]
        )

    message = await raw.parse()
    assert message.type == "message" and message.content[0].type == "text" and message.model == "gpt-5.4"
    assert (raw.headers["x-modelyard-provider"], raw.headers["x-modelyard-attempts"]) == ("openai", "2")


async def test_a_stream_falls_back_before_its_first_byte(deployment: Deployment) -> None:
    await deployment.alias("mixed", OPENAI, CLAUDE)
    deployment.openai.fail(502, "bad gateway", type="server_error")
    body = {"model": "mixed", "messages": [{"role": "user", "content": "Hi"}], "stream": True}

    url, auth = f"{deployment.urls[0]}/v1/chat/completions", {"Authorization": f"Bearer {deployment.api_key}"}
    async with deployment.http.post(url, json=body, headers=auth) as response:
        events = (await response.read()).decode()

    assert response.status == 200 and response.headers["x-modelyard-provider"] == "anthropic"
    assert response.headers["x-modelyard-fallbacks"] == f"{OPENAI}:502"
    texts = [
        choice["delta"].get("content") or ""
        for line in events.splitlines()
        if line.startswith("data: {")
        for choice in orjson.loads(line[6:])["choices"]
    ]
    assert "".join(texts) == "Hello!" and events.rstrip().endswith("data: [DONE]")


# --- retries, budgets, cool-downs -------------------------------------------------------------------------------


async def test_a_lone_target_is_retried_with_backoff_within_the_attempts(deployment: Deployment) -> None:
    await deployment.alias("solo", DEEPSEEK, max_attempts=3)
    deployment.deepseek.fail(503, "down", type="server_error")
    deployment.deepseek.fail(503, "down", type="server_error")

    status, headers, _ = await deployment.chat("solo")
    assert (status, headers["x-modelyard-attempts"]) == (200, "3")
    assert headers["x-modelyard-fallbacks"] == f"{DEEPSEEK}:503, {DEEPSEEK}:503"

    for _ in range(3):
        deployment.deepseek.fail(503, "down", type="server_error")
    before = chats(deployment.deepseek)
    status, _, body = await deployment.chat("solo")
    assert (status, body["error"]["code"]) == (503, "upstream_unavailable")
    assert chats(deployment.deepseek) - before == 3  # max_attempts, no more


class SteppedClock:
    """The fallback runner's clock and sleep: a backoff moves time at once, and nothing else does."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_retries_stop_when_the_time_budget_would_run_out(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Round 1 waits 0.7-1.4 s, so the second try starts before 2 s; round 2 waits 1.4-2.8 s more: past 2 s, so it
    # never starts. The tries themselves take no time on this clock, so a busy machine cannot move the count.
    monkeypatch.setattr(fallback, "BACKOFF_BASE_S", 1.4)
    for replica in deployment.replicas:
        clock = SteppedClock()
        monkeypatch.setattr(replica.invoker._fallback, "_clock", clock)
        monkeypatch.setattr(replica.invoker._fallback, "_sleep", clock.sleep)
    await deployment.alias("solo", DEEPSEEK, max_attempts=10, max_time_s=2)
    for _ in range(5):
        deployment.deepseek.fail(503, "down", type="server_error")

    status, _, _ = await deployment.chat("solo")

    assert status == 503
    assert chats(deployment.deepseek) == 2  # a third try would start past the call's 2 s


async def test_a_rate_limited_target_cools_down_on_every_replica(deployment: Deployment) -> None:
    await deployment.alias("smart", DEEPSEEK, OPENAI)
    deployment.deepseek.fail(429, "slow down", type="rate_limit_error", headers={"Retry-After": "120"})
    assert (await deployment.chat("smart", replica=0))[1]["x-modelyard-fallbacks"] == f"{DEEPSEEK}:429"

    last = len(deployment.urls) - 1  # with Redis, the other replica
    status, headers, _ = await deployment.chat("smart", replica=last)

    assert (status, headers["x-modelyard-provider"], headers["x-modelyard-attempts"]) == (200, "openai", "1")
    assert headers["x-modelyard-fallbacks"] == f"{DEEPSEEK}:cooling"
    assert chats(deployment.deepseek) == 1  # skipped, not called
    [rest] = await deployment.replicas[last].cooldowns.read(deployment.workspace_id, [DEEPSEEK])
    assert 110 < rest.remaining_s <= 120 and "429" in rest.reason


async def test_a_later_shorter_failure_never_shortens_a_cool_down(deployment: Deployment) -> None:
    """Two calls in flight on both replicas meet 429s asking for 120 s and for 2 s; the 120 s rest stands."""
    await deployment.alias("solo", (DEEPSEEK, 1), (OPENAI, 0))
    gate = asyncio.Event()
    seen = 0

    async def rate_limited(request: Any, recorded: Any) -> Any:
        nonlocal seen
        seen += 1
        if seen == 2:
            gate.set()
        await gate.wait()  # both calls are upstream before either answers
        retry_after = "120" if recorded.json["messages"][0]["content"] == "first" else "2"
        return aiohttp.web.json_response(
            {"error": {"message": "slow", "type": "rate_limit_error"}}, status=429, headers={"Retry-After": retry_after}
        )

    deployment.deepseek._replies.extend([rate_limited, rate_limited])
    first = deployment.chat("solo", replica=0, messages=[{"role": "user", "content": "first"}])
    second = deployment.chat("solo", replica=len(deployment.urls) - 1, messages=[{"role": "user", "content": "second"}])
    answers = await asyncio.gather(first, second)

    assert [status for status, _, _ in answers] == [200, 200]
    for replica in deployment.replicas:
        [rest] = await replica.cooldowns.read(deployment.workspace_id, [DEEPSEEK])
        assert rest.remaining_s > 100
    assert await deployment.services.cooldowns.cool(deployment.workspace_id, DEEPSEEK, 1, "test") > 100


async def test_every_target_resting_answers_429_with_the_earliest_end(deployment: Deployment) -> None:
    await deployment.alias("smart", DEEPSEEK, OPENAI)
    await deployment.services.cooldowns.cool(deployment.workspace_id, DEEPSEEK, 30, "test")
    await deployment.services.cooldowns.cool(deployment.workspace_id, OPENAI, 8, "test")

    status, headers, body = await deployment.chat("smart", replica=len(deployment.urls) - 1)

    assert (status, body["error"]["code"]) == (429, "rate_limit_exceeded")
    assert headers["retry-after"] == "8" and "resting" in body["error"]["message"]
    assert chats(deployment.deepseek) + chats(deployment.openai) == 0


# --- listing, accounting, keys ----------------------------------------------------------------------------------


async def test_models_lists_the_aliases_with_their_targets(deployment: Deployment) -> None:
    await deployment.alias("smart", DEEPSEEK, (OPENAI, 0))
    async with deployment.http.get(
        f"{deployment.urls[-1]}/v1/models", headers={"Authorization": f"Bearer {deployment.api_key}"}
    ) as response:
        listed = (await response.json())["data"]

    [alias] = [entry for entry in listed if entry["id"] == "smart"]
    assert alias == {
        "id": "smart",
        "object": "model",
        "created": 0,
        "owned_by": "alias",
        "model_type": "llm",
        "deprecated": False,
        "shutdown_date": None,
        "alias_of": [DEEPSEEK, OPENAI],
    }


async def test_usage_records_each_failed_attempt_and_the_answer(deployment: Deployment) -> None:
    await deployment.alias("smart", DEEPSEEK, OPENAI)
    deployment.deepseek.fail(503, "down", type="server_error")
    assert (await deployment.chat("smart"))[0] == 200

    await deployment.services.usage.flush()
    records = await deployment.services.usage.records(workspace_id=deployment.workspace_id)
    assert sorted((r.provider, r.status, r.error_class) for r in records) == [
        ("deepseek", "error", "UpstreamUnavailableError"),
        ("openai", "success", None),
    ]
    assert len({r.request_id for r in records}) == 1  # one call


async def test_a_key_allowed_an_alias_may_use_its_targets_through_it(deployment: Deployment) -> None:
    await deployment.alias("smart", DEEPSEEK, OPENAI)
    _, by_alias = await deployment.services.api_keys.create(
        workspace_id=deployment.workspace_id, name="alias-only", policy={"allowed_models": ["smart"]}
    )
    _, by_provider = await deployment.services.api_keys.create(
        workspace_id=deployment.workspace_id, name="openai-only", policy={"allowed_models": ["openai/*"]}
    )
    _, elsewhere = await deployment.services.api_keys.create(
        workspace_id=deployment.workspace_id, name="claude-only", policy={"allowed_models": [CLAUDE]}
    )

    deployment.deepseek.fail(503, "down", type="server_error")
    status, headers, _ = await deployment.chat("smart", key=by_alias)
    assert (status, headers["x-modelyard-provider"]) == (200, "openai")  # the alias's fallback, allowed through it
    assert (await deployment.chat(DEEPSEEK, key=by_alias))[0] == 403  # but not the model by itself

    before = chats(deployment.deepseek)
    for _ in range(2):
        status, headers, _ = await deployment.chat("smart", key=by_provider)
        assert (status, headers["x-modelyard-provider"]) == (200, "openai")  # only the targets it allows
    assert chats(deployment.deepseek) == before

    status, _, body = await deployment.chat("smart", key=elsewhere)
    assert (status, body["error"]["code"]) == (403, "model_not_allowed")
    assert "smart" in body["error"]["message"]


async def test_the_response_cache_keeps_an_alias_apart_from_its_models(deployment: Deployment) -> None:
    await deployment.alias("smart", (DEEPSEEK, 1), (OPENAI, 0))
    deployment.deepseek.fail(503, "down", type="server_error")
    _, first, _ = await deployment.chat("smart", cache_ttl=60)
    assert (first["x-modelyard-cache"], first["x-modelyard-provider"]) == ("miss", "openai")

    _, direct, _ = await deployment.chat(DEEPSEEK, cache_ttl=60)  # the same body, naming the primary model itself
    assert (direct["x-modelyard-cache"], direct["x-modelyard-provider"]) == ("miss", "deepseek")
    _, again, _ = await deployment.chat("smart", cache_ttl=60)
    assert (again["x-modelyard-cache"], again["x-modelyard-provider"]) == ("hit", "openai")


async def test_a_budget_holds_the_dearest_targets_worst_case(deployment: Deployment) -> None:
    """The primary target alone fits the budget, a fallback's worst case does not: the call is refused up front,
    since whichever target answers must be covered."""
    await deployment.alias("smart", (DEEPSEEK, 1), (OPENAI, 0))
    body = {"model": "smart", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 20_000}
    pairs = (("deepseek", "deepseek-flash"), ("openai", "gpt-5.4"))
    catalog = [deployment.services.catalog.get(p).model(m, "llm") for p, m in pairs]
    cheap, dear = (worst_case_price(CallEstimate(model, ingress.chat_request(body))) for model in catalog)
    assert cheap is not None and dear is not None and cheap < dear
    limit = f"{(cheap + dear) / 2:.6f}"
    _, key = await deployment.services.api_keys.create(
        workspace_id=deployment.workspace_id, name="budgeted", policy={"budget": {"limit": limit}}
    )

    status, _, refused = await deployment.chat("smart", key=key, max_tokens=20_000)

    assert (status, refused["error"]["code"]) == (429, "budget_exceeded")
    assert chats(deployment.deepseek) == 0
    assert (await deployment.chat(DEEPSEEK, key=key, max_tokens=20_000))[0] == 200  # the model alone fits


async def test_a_budget_is_charged_only_for_the_target_that_answered(deployment: Deployment) -> None:
    await deployment.alias("smart", (DEEPSEEK, 1), (OPENAI, 0))
    view, key = await deployment.services.api_keys.create(
        workspace_id=deployment.workspace_id, name="budgeted", policy={"budget": {"limit": "50"}}
    )
    deployment.deepseek.fail(503, "down", type="server_error")

    assert (await deployment.chat("smart", key=key))[0] == 200

    for replica in deployment.replicas:
        await replica.invoker.drain()
        await replica.governor.flush()
        await replica.usage.flush()
    records = await deployment.services.usage.records(workspace_id=deployment.workspace_id)
    [answered] = [record for record in records if record.status == "success"]
    assert view.policy.budget is not None and answered.total_price > 0
    [budget] = await deployment.services.governor.budgets(
        deployment.workspace_id, [(f"key:{view.id}", view.policy.budget)]
    )
    assert budget.spent == from_units(to_units(answered.total_price))  # the failed attempt cost nothing


@pytest.fixture
def hosted(fake_openai: FakeOpenAI) -> HostedConfig:
    credentials = {"openai_api_key": SECRET, "openai_api_base": fake_openai.url}
    return HostedConfig(
        providers={"openai": HostedProvider("openai", credentials, quota_type="trial", unit="times", limit=10)}
    )


async def test_hosted_quota_is_charged_only_for_the_attempt_that_answered(gateway, fake_openai: FakeOpenAI) -> None:
    """The gateway fixture's workspace has its own deepseek key and openai only as the operator's hosted offer."""
    targets = parse([{"model": OPENAI, "weight": 1}, {"model": DEEPSEEK, "weight": 0}])
    await gateway.services.aliases.create(workspace_id=gateway.workspace_id, name="hosted", targets=targets)
    body = {"model": "hosted", "messages": [{"role": "user", "content": "Hi"}]}
    auth = {"Authorization": f"Bearer {gateway.api_key}"}
    services = gateway.services

    async def ledger_kinds() -> list[str]:
        await services.invoker.drain()
        await services.quota.flush()
        return [entry.kind for entry in await services.quota.ledger(workspace_id=gateway.workspace_id)]

    fake_openai.fail(503, "down", type="server_error")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{gateway.url}/v1/chat/completions", json=body, headers=auth) as response:
            assert (response.status, response.headers["x-modelyard-provider"]) == (200, "deepseek")
        await eventually(lambda: _has(ledger_kinds, 2), "the failed attempt's reservation to be closed")
        assert await ledger_kinds() == ["reserve", "release"]  # given back

        async with http.post(f"{gateway.url}/v1/chat/completions", json=body, headers=auth) as response:
            assert response.status == 200 and response.headers["x-modelyard-provider-type"] == "system"
        await eventually(lambda: _has(ledger_kinds, 4), "the answer's reservation to be settled")
        assert await ledger_kinds() == ["reserve", "release", "reserve", "settle"]


async def _has(kinds: Any, count: int) -> bool:
    return len(await kinds()) >= count


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _points_at(replica: Services, workspace_id: str, url: str) -> bool:
    snapshot = await replica.snapshots.get(workspace_id)
    credentials = snapshot.providers["deepseek"].credentials or {}
    return credentials.get("endpoint_url") == url
