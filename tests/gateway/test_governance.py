"""API keys that carry policy, through the real gateway socket (issue 16 §1-2): allowed models, expiry, requests and
tokens per minute, concurrency and budgets, on the key and on the workspace, with OpenAI's x-ratelimit-* headers; on
SQLite, PostgreSQL, and PostgreSQL + Redis with two gateway replicas.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import redis.asyncio as redis
from aiohttp import web
from multidict import CIMultiDict
from sqlalchemy import select

from modelyard.gateway.app import Gateway
from modelyard.gateway.metrics import Metrics
from modelyard.protocols.openai import ingress
from modelyard.runtime import Runtime
from modelyard.services.context import Services
from modelyard.services.governance.periods import meter_name
from modelyard.services.quota.budgets import from_units, to_units
from modelyard.services.quota.estimate import CallEstimate, worst_case_price
from modelyard.store.tables import BudgetCounter, BudgetLedgerEntry
from tests.fakes.loopback import served
from tests.fakes.openai import FakeOpenAI, Recorded, chat_chunk, completion, sse, usage_chunk
from tests.support import SECRET, eventually, make_settings, redis_url, require_postgres, require_redis, serve

MODEL = "deepseek/deepseek-flash"
OTHER = "deepseek/deepseek-v4-pro"
MAX_TOKENS = 1000


class GatedOpenAI(FakeOpenAI):
    """Answers every chat (9 prompt and 3 completion tokens); while `gate` is closed, calls wait upstream."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()
        self.waiting = 0

    async def _default_chat(self, recorded: Recorded) -> web.StreamResponse:
        self.waiting += 1
        try:
            await self.gate.wait()
        finally:
            self.waiting -= 1
        if (recorded.json or {}).get("stream"):
            events = sse(chat_chunk({"role": "assistant", "content": "Hi"}), chat_chunk({}, "stop"), usage_chunk(9, 3))
            return web.Response(body=events, content_type="text/event-stream")
        return web.json_response(completion("Hi"))


@dataclass
class Deployment:
    replicas: list[Services]
    urls: list[str]
    workspace_id: str
    upstream: GatedOpenAI
    http: aiohttp.ClientSession

    @property
    def services(self) -> Services:
        return self.replicas[0]

    async def key(self, **policy: Any) -> str:
        _, plaintext = await self.services.api_keys.create(workspace_id=self.workspace_id, name="app", policy=policy)
        return plaintext

    async def chat(
        self, key: str, *, model: str = MODEL, number: int = 0, stream: bool = False, **extra: Any
    ) -> tuple[int, CIMultiDict[str], dict[str, Any]]:
        body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": MAX_TOKENS}
        body.update(stream=stream, **extra)
        url = f"{self.urls[number % len(self.urls)]}/v1/chat/completions"
        async with self.http.post(url, json=body, headers={"Authorization": f"Bearer {key}"}) as response:
            raw = await response.read()
            payload = orjson.loads(raw) if response.content_type == "application/json" else {"raw": raw}
            return response.status, CIMultiDict(response.headers), payload

    async def settled(self) -> None:
        for replica in self.replicas:
            await replica.invoker.drain()
            await replica.governor.flush()


@pytest.fixture
async def upstream() -> AsyncIterator[GatedOpenAI]:
    async with served(GatedOpenAI()) as fake:
        yield fake


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


@pytest.fixture
async def deployment(
    setup: str, database: tuple[str, str | None], tmp_path: Path, runtime: Runtime, upstream: GatedOpenAI
) -> AsyncIterator[Deployment]:
    """A workspace with deepseek credentials on the fake; with Redis, two replicas, each with its own gateway."""
    backend, schema = database
    shared = redis_url() if setup.endswith("redis") else None
    settings = make_settings(tmp_path, backend, schema, redis_url=shared)
    replicas = [Services(settings, runtime=runtime) for _ in range(2 if shared else 1)]
    for replica in replicas:
        await replica.start()
    workspace = (await replicas[0].workspaces.create("Governed")).id
    await replicas[0].credentials.create(
        workspace_id=workspace,
        provider="deepseek",
        values={"api_key": SECRET, "endpoint_url": f"{upstream.url}/v1"},
        validate=False,
    )
    servers = [await serve(Gateway(replica, Metrics())) for replica in replicas]
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:  # 500 calls at once
            yield Deployment(replicas, [url for _, _, url in servers], workspace, upstream, http)
    finally:
        for server, task, _ in servers:
            server.should_exit = True
            await task
        for replica in replicas:
            await replica.close()
        if shared is not None:
            client = redis.from_url(shared)
            async for name in client.scan_iter(match=f"modelyard:gov:{{{workspace}}}:*"):
                await client.delete(name)
            await client.aclose()


def worst_case_units(services: Services) -> int:
    """What one test call reserves: its prompt by the shipped tokenizer, MAX_TOKENS of answer, the catalog's price."""
    model = services.catalog.get("deepseek").model("deepseek-flash", "llm")
    assert model is not None
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": MAX_TOKENS}
    price = worst_case_price(CallEstimate(model, ingress.chat_request(body)))
    assert price is not None
    return to_units(price)


def code(payload: dict[str, Any]) -> str:
    return str(payload["error"]["code"])


async def test_a_key_without_policy_answers_without_rate_limit_headers(deployment: Deployment) -> None:
    key = await deployment.key()
    status, headers, _ = await deployment.chat(key)
    assert status == 200
    assert "x-ratelimit-limit-requests" not in headers


# --- allowed models and expiry ----------------------------------------------------------------------------------


async def test_a_key_calls_only_the_models_its_policy_allows(deployment: Deployment) -> None:
    key = await deployment.key(allowed_models=[MODEL])
    wildcard = await deployment.key(allowed_models=["deepseek/*"])

    assert (await deployment.chat(key))[0] == 200
    status, _, refused = await deployment.chat(key, model=OTHER)
    assert (status, code(refused), refused["error"]["type"]) == (403, "model_not_allowed", "permission_error")
    assert "policy of API key 'app'" in refused["error"]["message"] and MODEL in refused["error"]["message"]
    assert (await deployment.chat(wildcard, model=OTHER))[0] == 200
    assert len(deployment.upstream.requests) == 2  # the refused call never left


async def test_a_key_past_its_expiry_is_refused_as_expired(deployment: Deployment) -> None:
    key = await deployment.key(expires_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    assert (await deployment.chat(key))[0] == 200

    view = (await deployment.services.api_keys.list(workspace_id=deployment.workspace_id))[0]
    past = datetime.now(UTC) - timedelta(seconds=1)
    for replica in deployment.replicas[:1]:
        await replica.api_keys.update(workspace_id=deployment.workspace_id, key_id=view.id, policy={"expires_at": past})
    for number in range(len(deployment.urls)):  # every replica heard of the change
        await eventually(lambda n=number: _status_of(deployment, key, n, 401), f"replica {number} to refuse the key")
    status, _, refused = await deployment.chat(key)
    assert (status, code(refused)) == (401, "api_key_expired")
    assert "expired at" in refused["error"]["message"]


async def _status_of(deployment: Deployment, key: str, number: int, expected: int) -> bool:
    return (await deployment.chat(key, number=number))[0] == expected


# --- rates and concurrency ----------------------------------------------------------------------------------------


async def test_requests_per_minute_answer_openai_headers_and_429_with_retry_after(deployment: Deployment) -> None:
    key = await deployment.key(requests_per_minute=3)
    answers = [await deployment.chat(key, number=n) for n in range(4)]  # alternating replicas when there are two

    assert [status for status, _, _ in answers] == [200, 200, 200, 429]
    assert [h["x-ratelimit-limit-requests"] for _, h, _ in answers] == ["3"] * 4
    assert [h["x-ratelimit-remaining-requests"] for _, h, _ in answers] == ["2", "1", "0", "0"]
    assert answers[0][1]["x-ratelimit-reset-requests"].endswith("s")  # Go-style: 19.998s, 20s
    _, headers, refused = answers[3]
    assert code(refused) == "rate_limit_exceeded" and refused["error"]["type"] == "rate_limit_error"
    assert 1 <= int(headers["retry-after"]) <= 20  # one request comes back every 20 s
    assert "limited to 3 requests per minute" in refused["error"]["message"]


async def test_tokens_per_minute_count_the_prompt_and_max_tokens_then_the_real_usage(deployment: Deployment) -> None:
    key = await deployment.key(tokens_per_minute=2500)
    first = await deployment.chat(key)
    assert first[0] == 200 and first[1]["x-ratelimit-limit-tokens"] == "2500"
    assert int(first[1]["x-ratelimit-remaining-tokens"]) < 1500  # the prompt and 1,000 of max_tokens taken
    await deployment.settled()  # the call used 12 tokens: the rest of its charge comes back

    second = await deployment.chat(key, number=1)
    assert second[0] == 200 and int(second[1]["x-ratelimit-remaining-tokens"]) > 1400
    status, _, too_large = await deployment.chat(key, max_tokens=5000)
    assert (status, code(too_large)) == (429, "rate_limit_exceeded")
    assert "lower max_tokens" in too_large["error"]["message"]


async def test_concurrent_requests_beyond_the_limit_are_refused_while_the_others_run(deployment: Deployment) -> None:
    key = await deployment.key(max_concurrent_requests=2)
    upstream = deployment.upstream
    upstream.gate.clear()
    running = [asyncio.ensure_future(deployment.chat(key, number=n)) for n in range(2)]
    await eventually(lambda: upstream.waiting == 2, "two calls to reach the upstream")

    status, headers, refused = await deployment.chat(key, number=1)
    assert (status, code(refused)) == (429, "rate_limit_exceeded")
    assert "2 concurrent requests" in refused["error"]["message"] and headers["retry-after"] == "1"
    upstream.gate.set()
    assert [status for status, _, _ in await asyncio.gather(*running)] == [200, 200]
    await deployment.settled()
    assert (await deployment.chat(key))[0] == 200  # the slots came back


async def test_a_streamed_call_holds_its_slot_until_the_stream_ends(deployment: Deployment) -> None:
    key = await deployment.key(max_concurrent_requests=1)
    status, _, answer = await deployment.chat(key, stream=True, stream_options={"include_usage": True})
    assert status == 200 and b"[DONE]" in answer["raw"]
    await deployment.settled()
    assert (await deployment.chat(key, number=1))[0] == 200


async def test_the_workspace_limits_every_key_and_a_call_passes_both_levels(deployment: Deployment) -> None:
    await deployment.services.governor.policies.update(deployment.workspace_id, {"requests_per_minute": 2})
    loose, strict = await deployment.key(), await deployment.key(requests_per_minute=1)

    assert (await deployment.chat(strict))[0] == 200
    status, _, refused = await deployment.chat(strict, number=1)
    assert status == 429 and "API key 'app'" in refused["error"]["message"]
    status, headers, _ = await deployment.chat(loose)
    assert status == 200 and headers["x-ratelimit-remaining-requests"] == "0"  # the workspace's: 2 taken of 2
    status, _, refused = await deployment.chat(loose, number=1)
    assert status == 429 and "this workspace" in refused["error"]["message"]


# --- budgets --------------------------------------------------------------------------------------------------------


async def test_concurrent_calls_never_spend_past_the_budget(deployment: Deployment, backend: str) -> None:
    """500 calls at once against a budget that affords 200 worst cases: 200 run, 300 are refused, and the spend
    never passes the budget; once they settle, only their real cost stays spent."""
    services = deployment.services
    worst = worst_case_units(services)
    budget = from_units(200 * worst)
    key = await deployment.key(budget={"limit": str(budget), "currency": "USD"})
    upstream = deployment.upstream
    upstream.gate.clear()
    calls = [asyncio.ensure_future(deployment.chat(key, number=n)) for n in range(500)]
    await eventually(
        lambda: upstream.waiting + sum(c.done() for c in calls) == 500, "every call to be decided", within_s=60
    )
    assert upstream.waiting == 200
    refused = [await call for call in calls if call.done()]
    assert {(status, code(body)) for status, _, body in refused} == {(429, "budget_exceeded")}
    assert {headers["x-should-retry"] for _, headers, _ in refused} == {"false"}
    upstream.gate.set()
    answered = await asyncio.gather(*calls)
    assert sum(status == 200 for status, _, _ in answered) == 200
    await deployment.settled()

    meter = meter_name(f"key:{(await _key_id(deployment))}", "none", datetime.now(UTC))
    spent = await services.governor.spend(deployment.workspace_id, [meter])
    real = to_units(Decimal(9) * Decimal("0.15") / 10**6 + Decimal(3) * Decimal("0.60") / 10**6)
    assert spent[meter] == 200 * real <= 200 * worst
    async with services.db() as session:
        counter = await session.scalar(select(BudgetCounter).where(BudgetCounter.meter == meter))
        ledger = (await session.scalars(select(BudgetLedgerEntry).where(BudgetLedgerEntry.meter == meter))).all()
    assert counter is not None and counter.used == sum(entry.amount for entry in ledger) == spent[meter]


async def _key_id(deployment: Deployment) -> str:
    return (await deployment.services.api_keys.list(workspace_id=deployment.workspace_id))[-1].id


async def test_budget_headers_report_what_remains_and_the_soft_limit(deployment: Deployment) -> None:
    worst = worst_case_units(deployment.services)
    key = await deployment.key(
        budget={"limit": str(from_units(3 * worst)), "soft_limit": str(from_units(worst)), "window": "daily"}
    )
    status, headers, _ = await deployment.chat(key)
    assert status == 200
    assert headers["x-modelyard-budget-remaining"] == f"{from_units(2 * worst).normalize():f} USD"
    assert headers["x-modelyard-budget-soft-limit-reached"] == "key"


async def test_a_strict_key_refuses_a_parameter_its_model_would_drop(deployment: Deployment) -> None:
    lenient, strict = await deployment.key(), await deployment.key(strict_params=True)

    status, headers, _ = await deployment.chat(lenient, model="deepseek/deepseek-v4-flash", temperature=0.2)
    assert status == 200 and headers["x-modelyard-dropped-params"] == "temperature"
    status, _, refused = await deployment.chat(strict, model="deepseek/deepseek-v4-flash", temperature=0.2)
    assert (status, refused["error"]["param"]) == (400, "temperature")
    assert len(deployment.upstream.requests) == 1  # the strict call never left
