"""The response cache through the real gateway socket: identical calls answered from a stored answer without the
upstream, the hosted quota or a budget, on SQLite (in-process store) and PostgreSQL + Redis with two replicas.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import redis.asyncio as redis
from aiohttp import web
from multidict import CIMultiDict

from modelyard.gateway.app import Gateway
from modelyard.gateway.cache import normalised
from modelyard.gateway.metrics import Metrics
from modelyard.runtime import Runtime
from modelyard.services.context import Services
from modelyard.services.hosted import HostedConfig, HostedProvider
from modelyard.services.recorded import StoredAnswer
from modelyard.services.response_cache.service import KEY_PREFIX
from modelyard.services.response_cache.stores import LocalAnswers
from tests.fakes.loopback import served
from tests.fakes.openai import FakeOpenAI, Recorded, chat_chunk, completion, sse, usage_chunk
from tests.support import SECRET, eventually, make_settings, redis_url, require_postgres, require_redis, serve

MODEL = "deepseek/deepseek-flash"
TRIAL = 5  # hosted calls
CHAT = "/v1/chat/completions"


class EchoingOpenAI(FakeOpenAI):
    """Answers each chat with its prompt and the number of chats it has answered, so a fresh answer differs from a
    stored one."""

    async def _default_chat(self, recorded: Recorded) -> web.StreamResponse:
        text = f"echo {len(self.requests)}: {recorded.json['messages'][-1]['content']}"
        if recorded.json.get("stream"):
            events = sse(chat_chunk({"role": "assistant", "content": text}), chat_chunk({}, "stop"), usage_chunk(9, 3))
            return web.Response(body=events, content_type="text/event-stream")
        return web.json_response(completion(text))


@dataclass
class Deployment:
    replicas: list[Services]
    metrics: list[Metrics]
    urls: list[str]  # one gateway per replica
    workspace_id: str
    api_key: str
    upstream: EchoingOpenAI
    http: aiohttp.ClientSession

    async def post(
        self, path: str, body: dict[str, Any], *, number: int = 0, api_key: str | None = None, **headers: str
    ) -> tuple[int, CIMultiDict[str], bytes]:
        """Calls alternate between the replicas by `number`."""
        headers["Authorization"] = f"Bearer {api_key or self.api_key}"
        url = self.urls[number % len(self.urls)] + path
        async with self.http.post(url, json=body, headers=headers) as response:
            return response.status, CIMultiDict(response.headers), await response.read()

    async def chat(self, prompt: str, **options: Any) -> tuple[int, CIMultiDict[str], bytes]:
        stream = options.pop("stream", False)
        body = {"model": options.pop("model", MODEL), "messages": [{"role": "user", "content": prompt}]}
        return await self.post(CHAT, {**body, "stream": stream} if stream else body, **options)

    async def spent(self) -> int:
        """Hosted calls spent: the ledger's sum, checked against the quota's `used`."""
        for replica in self.replicas:
            await replica.invoker.drain()
            await replica.quota.flush()
        (status,) = await self.replicas[0].quota.status(workspace_id=self.workspace_id)
        ledger = await self.replicas[0].quota.ledger(workspace_id=self.workspace_id)
        assert sum(entry.amount for entry in ledger) == status.used
        return status.used

    async def usage_statuses(self) -> list[str]:
        for replica in self.replicas:
            await replica.invoker.drain()
            await replica.usage.flush()
        records = await self.replicas[0].usage.records(workspace_id=self.workspace_id)
        return sorted(record.status for record in records)

    def counted(self, result: str, route: str = CHAT) -> float:
        samples = (
            m.registry.get_sample_value("modelyard_response_cache_total", {"route": route, "result": result})
            for m in self.metrics
        )
        return sum(sample or 0.0 for sample in samples)


@pytest.fixture(params=["sqlite", "postgres+redis"])
def setup(request: pytest.FixtureRequest) -> str:
    if request.param != "sqlite":
        require_postgres()
        require_redis()
    return str(request.param)


@pytest.fixture
def backend(setup: str) -> str:
    return setup.partition("+")[0]  # the root conftest's `database` makes a file or a schema for it


@pytest.fixture
async def upstream() -> AsyncIterator[EchoingOpenAI]:
    async with served(EchoingOpenAI()) as fake:
        yield fake


async def _deploy(
    setup: str, database: tuple[str, str | None], tmp_path: Path, runtime: Runtime, upstream: EchoingOpenAI
) -> AsyncIterator[Deployment]:
    backend, schema = database
    shared = redis_url() if setup.endswith("redis") else None
    hosted = HostedProvider(
        "deepseek", {"api_key": SECRET, "endpoint_url": f"{upstream.url}/v1"}, "trial", "times", TRIAL
    )
    settings = make_settings(tmp_path, backend, schema, redis_url=shared)
    replicas = [
        Services(settings, runtime=runtime, hosted=HostedConfig(providers={"deepseek": hosted}))
        for _ in range(1 if backend == "sqlite" else 2)
    ]
    for replica in replicas:
        await replica.start()
    workspace = (await replicas[0].workspaces.create("Cached")).id
    _, key = await replicas[0].api_keys.create(workspace_id=workspace, name="tests")
    metrics = [Metrics() for _ in replicas]
    servers = [await serve(Gateway(replica, m)) for replica, m in zip(replicas, metrics, strict=True)]
    try:
        async with aiohttp.ClientSession() as http:
            yield Deployment(replicas, metrics, [url for _, _, url in servers], workspace, key, upstream, http)
    finally:
        for server, task, _ in servers:
            server.should_exit = True
            await task
        for replica in replicas:
            await replica.close()
        if shared is not None:
            await _forget_redis_keys(shared, workspace)


@pytest.fixture
async def deployment(
    setup: str, database: tuple[str, str | None], tmp_path: Path, runtime: Runtime, upstream: EchoingOpenAI
) -> AsyncIterator[Deployment]:
    """A hosted deepseek trial of TRIAL calls, the workspace opted in for 10 minutes; on PostgreSQL, two replicas
    sharing the database and Redis, each with its own gateway socket."""
    async for deployed in _deploy(setup, database, tmp_path, runtime, upstream):
        await deployed.replicas[0].response_cache.settings.set(deployed.workspace_id, 600)
        yield deployed


async def _forget_redis_keys(url: str, workspace_id: str) -> None:
    client = redis.from_url(url)
    try:
        for pattern in (f"modelyard:quota:{{{workspace_id}:*", f"{KEY_PREFIX}{workspace_id}:*"):
            async for key in client.scan_iter(match=pattern):
                await client.delete(key)
    finally:
        await client.aclose()


def content(body: bytes) -> str:
    return str(orjson.loads(body)["choices"][0]["message"]["content"])


# --- hits: the same answer, nothing spent -------------------------------------------------------------------------


async def test_identical_calls_are_answered_from_the_cache_without_the_upstream_or_the_hosted_quota(
    deployment: Deployment,
) -> None:
    status, headers, first = await deployment.chat("Hi")
    assert (status, headers["x-modelyard-cache"], content(first)) == (200, "miss", "echo 1: Hi")
    for number in range(1, 9):  # more hits than the trial has calls; on two replicas, alternately
        status, hit_headers, again = await deployment.chat("Hi", number=number)
        assert (status, again, hit_headers["x-modelyard-cache"]) == (200, first, "hit")
        assert int(hit_headers["age"]) >= 0
        assert hit_headers["x-request-id"] != headers["x-request-id"]  # this call's own id
        assert hit_headers["x-modelyard-provider-type"] == "system"
        assert "x-ratelimit-limit-requests" not in hit_headers
    assert len(deployment.upstream.requests) == 1
    assert await deployment.spent() == 1
    assert await deployment.usage_statuses() == ["cache_hit"] * 8 + ["success"]
    [total] = await deployment.replicas[0].usage.aggregate(workspace_id=deployment.workspace_id, group_by=["model"])
    assert (total.calls, total.cache_hits, total.errors, total.completion_tokens) == (9, 8, 0, 3)
    assert (deployment.counted("hit"), deployment.counted("miss")) == (8, 1)


async def test_a_model_named_another_way_is_the_same_resolved_model(deployment: Deployment) -> None:
    _, _, first = await deployment.chat("Hi", model=MODEL)
    status, headers, again = await deployment.chat("Hi", model="deepseek-flash")  # the bare name resolves to it
    assert (status, headers["x-modelyard-cache"], again) == (200, "hit", first)


async def test_a_stream_is_replayed_as_its_events_and_cached_apart_from_the_json_answer(deployment: Deployment) -> None:
    status, headers, streamed = await deployment.chat("Stream", stream=True)
    assert (status, headers["x-modelyard-cache"]) == (200, "miss")
    assert b"echo 1: Stream" in streamed and streamed.endswith(b"data: [DONE]\n\n")

    status, headers, replayed = await deployment.chat("Stream", stream=True, number=1)
    assert (status, headers["x-modelyard-cache"], replayed) == (200, "hit", streamed)
    assert headers["content-type"].startswith("text/event-stream")

    status, headers, whole = await deployment.chat("Stream", number=1)  # the same call unstreamed: its own entry
    assert (headers["x-modelyard-cache"], content(whole)) == ("miss", "echo 2: Stream")
    assert len(deployment.upstream.requests) == 2


async def test_no_cache_refreshes_the_stored_answer_and_no_store_keeps_none(deployment: Deployment) -> None:
    await deployment.chat("Hi")
    _, headers, fresh = await deployment.chat("Hi", number=1, **{"Cache-Control": "no-cache"})
    assert (headers["x-modelyard-cache"], content(fresh)) == ("miss", "echo 2: Hi")
    _, headers, again = await deployment.chat("Hi")
    assert (headers["x-modelyard-cache"], again) == ("hit", fresh)  # the refresh replaced the stored answer

    _, headers, unstored = await deployment.chat("Other", **{"Cache-Control": "no-store"})
    assert (headers["x-modelyard-cache"], content(unstored)) == ("miss", "echo 3: Other")
    _, headers, _ = await deployment.chat("Other", number=1)
    assert headers["x-modelyard-cache"] == "miss"
    _, headers, _ = await deployment.chat("Other", **{"Cache-Control": "max-age=0, no-store"})
    assert headers["x-modelyard-cache"] == "hit"  # no-store may still be answered from the cache (RFC 9111 5.2.1.5)
    assert len(deployment.upstream.requests) == 4


async def test_workspaces_never_share_answers(deployment: Deployment) -> None:
    services = deployment.replicas[0]
    other = (await services.workspaces.create("Other")).id
    await services.response_cache.settings.set(other, 600)
    await services.credentials.create(
        workspace_id=other,
        provider="deepseek",
        values={"api_key": SECRET, "endpoint_url": f"{deployment.upstream.url}/v1"},
        validate=False,
    )
    _, other_key = await services.api_keys.create(workspace_id=other, name="other")
    _, _, first = await deployment.chat("Hi")
    status, headers, theirs = await deployment.chat("Hi", api_key=other_key, number=1)
    assert (status, headers["x-modelyard-cache"], content(theirs)) == (200, "miss", "echo 2: Hi")
    assert (await deployment.chat("Hi", api_key=other_key))[2] == theirs  # each workspace hits its own answer
    assert (await deployment.chat("Hi", number=1))[2] == first


async def test_errors_and_broken_streams_are_never_cached(deployment: Deployment) -> None:
    upstream = deployment.upstream
    upstream.fail(400, "messages are malformed")
    assert (await deployment.chat("Hi"))[0] == 400
    upstream.stream(
        sse(chat_chunk({"content": "Hel"}), chat_chunk({"content": "lo"}, "stop")), piece_size=20, drop_after=1
    )
    status, _, broken = await deployment.chat("Hi", stream=True)
    assert status == 200 and b'"error"' in broken
    status, headers, answer = await deployment.chat("Hi", number=1)
    assert (status, headers["x-modelyard-cache"], content(answer)) == (200, "miss", "echo 3: Hi")
    status, headers, _ = await deployment.chat("Hi", stream=True, number=1)
    assert (status, headers["x-modelyard-cache"]) == (200, "miss")
    assert len(upstream.requests) == 4


async def test_a_key_not_allowed_the_model_is_refused_though_an_answer_is_cached(deployment: Deployment) -> None:
    services = deployment.replicas[0]
    _, narrow = await services.api_keys.create(
        workspace_id=deployment.workspace_id, name="narrow", policy={"allowed_models": ["openai/*"]}
    )
    assert (await deployment.chat("Hi"))[0] == 200
    status, _, body = await deployment.chat("Hi", api_key=narrow, number=1)
    assert status == 403 and orjson.loads(body)["error"]["code"] == "model_not_allowed"


async def test_the_workspace_setting_reaches_every_replica_at_once(deployment: Deployment) -> None:
    await deployment.replicas[-1].response_cache.settings.ttl_s(deployment.workspace_id)  # each replica has read it
    await deployment.replicas[0].response_cache.settings.set(deployment.workspace_id, 0)
    for number in range(len(deployment.replicas)):
        await eventually(
            lambda n=number: _ttl_is(deployment.replicas[n], deployment.workspace_id, 0), f"replica {number} to see it"
        )
        _, headers, _ = await deployment.chat("Hi", number=number)
        assert "x-modelyard-cache" not in headers
    assert len(deployment.upstream.requests) == len(deployment.replicas)


async def _ttl_is(services: Services, workspace_id: str, ttl_s: int) -> bool:
    return await services.response_cache.settings.ttl_s(workspace_id) == ttl_s


# --- the TTL, per workspace or per request ---------------------------------------------------------------------------


@pytest.fixture
async def unopted(
    setup: str, database: tuple[str, str | None], tmp_path: Path, runtime: Runtime, upstream: EchoingOpenAI
) -> AsyncIterator[Deployment]:
    """As `deployment`, the workspace not opted in."""
    async for deployed in _deploy(setup, database, tmp_path, runtime, upstream):
        yield deployed


async def test_without_an_opt_in_nothing_is_cached_and_no_header_is_sent(unopted: Deployment) -> None:
    for number in range(2):
        status, headers, _ = await unopted.chat("Hi", number=number)
        assert status == 200 and "x-modelyard-cache" not in headers
    assert len(unopted.upstream.requests) == 2


async def test_a_request_opts_in_with_the_ttl_header_which_bounds_its_answers_life(unopted: Deployment) -> None:
    ttl = {"x-modelyard-cache-ttl": "30"}
    assert (await unopted.chat("Hi", **ttl))[1]["x-modelyard-cache"] == "miss"
    status, headers, _ = await unopted.chat("Hi", number=1, **ttl)
    assert (status, headers["x-modelyard-cache"]) == (200, "hit")
    assert "x-modelyard-cache" not in (await unopted.chat("Hi"))[1]  # without the header: the cache is off
    answers = unopted.replicas[0].response_cache.answers
    if isinstance(answers, LocalAnswers):  # in this process: move its clock past the TTL
        now = answers._clock()
        answers._clock = lambda: now + 31
    else:  # in Redis: the key expires with the TTL
        client = redis.from_url(redis_url())
        try:
            keys = [key async for key in client.scan_iter(match=f"{KEY_PREFIX}{unopted.workspace_id}:*")]
            assert len(keys) == 1 and 29_000 < await client.pttl(keys[0]) <= 30_000
            await client.delete(keys[0])  # what the expiry does, without waiting 30 s
        finally:
            await client.aclose()
    assert (await unopted.chat("Hi", **ttl))[1]["x-modelyard-cache"] == "miss"
    zero = {"x-modelyard-cache-ttl": "0"}  # looks up, stores nothing
    assert (await unopted.chat("Zero", **zero))[1]["x-modelyard-cache"] == "miss"
    assert (await unopted.chat("Zero", **zero))[1]["x-modelyard-cache"] == "miss"
    assert (await unopted.chat("Hi", **zero))[1]["x-modelyard-cache"] == "hit"
    assert len(unopted.upstream.requests) == 5


@pytest.mark.parametrize("value", ["-1", "soon", "2592001", "1.5"])
async def test_a_bad_ttl_header_is_a_400_naming_it_in_each_routes_shape(unopted: Deployment, value: str) -> None:
    status, _, body = await unopted.chat("Hi", **{"x-modelyard-cache-ttl": value})
    assert (status, orjson.loads(body)["error"]["param"]) == (400, "x-modelyard-cache-ttl")
    message = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}
    status, _, body = await unopted.post("/v1/messages", message, **{"x-modelyard-cache-ttl": value})
    assert status == 400 and orjson.loads(body)["type"] == "error"
    assert "x-modelyard-cache-ttl" in orjson.loads(body)["error"]["message"]
    assert unopted.upstream.requests == []


# --- the other routes -----------------------------------------------------------------------------------------------


async def test_messages_embeddings_and_stateless_responses_are_cached_stored_responses_are_not(
    deployment: Deployment,
) -> None:
    calls = {
        "/v1/messages": {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]},
        "/v1/responses": {"model": MODEL, "input": "Hi", "store": False},
        "/v1/embeddings": {"model": "openai/text-embedding-3-small", "input": "Hi"},
    }
    await deployment.replicas[0].credentials.create(
        workspace_id=deployment.workspace_id,
        provider="openai",
        values={"openai_api_key": SECRET, "openai_api_base": deployment.upstream.url},
        validate=False,
    )
    for path, body in calls.items():
        status, headers, first = await deployment.post(path, body)
        assert (status, headers["x-modelyard-cache"]) == (200, "miss"), path
        status, headers, again = await deployment.post(path, body, number=1)
        assert (status, headers["x-modelyard-cache"], again) == (200, "hit", first), path
        assert deployment.counted("hit", path) == 1
    assert len(deployment.upstream.requests) == 3
    stored = {"model": MODEL, "input": "Hi"}  # `store` defaults to true: the response is state, never replayed
    for number in range(2):
        status, headers, _ = await deployment.post("/v1/responses", stored, number=number)
        assert status == 200 and "x-modelyard-cache" not in headers
    assert len(deployment.upstream.requests) == 5


# --- the key and the in-process bound --------------------------------------------------------------------------------


def test_the_key_ignores_order_names_and_routing_hints_but_not_what_changes_the_answer() -> None:
    base = {"model": "a", "messages": [{"role": "user", "content": "Hi"}], "temperature": 0}
    same = {"temperature": 0, "user": "u-1", "messages": [{"content": "Hi", "role": "user"}], "model": "b"}
    assert normalised(base) == normalised(same) == normalised({**base, "stream": False})
    assert normalised(base) != normalised({**base, "stream": True})
    assert normalised(base) != normalised({**base, "temperature": 1})
    assert normalised({**base, "stream": True}) != normalised(
        {**base, "stream": True, "stream_options": {"include_usage": True}}
    )


def answer(text: str) -> StoredAnswer:
    return StoredAnswer(200, (("content-type", "application/json"),), text.encode() * 100)


async def test_the_in_process_store_evicts_the_least_recently_used_answer_past_its_bound() -> None:
    store = LocalAnswers(max_bytes=answer("a").size * 3)
    for name in "abc":
        await store.put(name, answer(name), 60)
    assert await store.get("a") is not None  # used: now the most recent
    await store.put("d", answer("d"), 60)
    assert [await store.get(name) is not None for name in "abcd"] == [True, False, True, True]
    assert (len(store), store.evicted, store.size <= store.max_bytes) == (3, 1, True)
    await store.put("huge", StoredAnswer(200, (), b"x" * (store.max_bytes + 1)), 60)
    assert await store.get("huge") is None and len(store) == 3


@pytest.mark.parametrize("setup", ["sqlite"])  # only the in-process store has a bound: Redis has its maxmemory
async def test_through_the_gateway_the_bound_evicts_the_oldest_answer(deployment: Deployment) -> None:
    answers = deployment.replicas[0].response_cache.answers
    assert isinstance(answers, LocalAnswers)
    _, _, one = await deployment.chat("one")
    answers.max_bytes = answers.size * 2 + 10  # room for two answers of this size
    await deployment.chat("two")
    await deployment.chat("three")
    assert answers.evicted == 1
    assert (await deployment.chat("three"))[1]["x-modelyard-cache"] == "hit"
    _, headers, again = await deployment.chat("one")
    assert headers["x-modelyard-cache"] == "miss" and again != one


async def test_a_keys_cache_ttl_comes_before_its_workspaces(unopted: Deployment) -> None:
    services = unopted.replicas[0]
    _, caching = await services.api_keys.create(
        workspace_id=unopted.workspace_id, name="caching", policy={"cache_ttl_s": 60}
    )
    _, never = await services.api_keys.create(
        workspace_id=unopted.workspace_id, name="never", policy={"cache_ttl_s": 0}
    )
    assert (await unopted.chat("Hi", api_key=caching))[1]["x-modelyard-cache"] == "miss"
    assert (await unopted.chat("Hi", api_key=caching, number=1))[1]["x-modelyard-cache"] == "hit"
    assert "x-modelyard-cache" not in (await unopted.chat("Hi"))[1]  # the workspace has not opted in

    await services.response_cache.settings.set(unopted.workspace_id, 600)
    for number in range(2):
        _, headers, body = await unopted.chat("Hi", api_key=never, number=number)
        assert "x-modelyard-cache" not in headers and content(body).startswith(f"echo {3 + number}:")
