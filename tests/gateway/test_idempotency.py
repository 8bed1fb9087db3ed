"""Idempotency-Key through the real gateway socket: the first answer is kept and replayed, a repeat never reaches the
upstream nor spends quota, on SQLite, PostgreSQL, and PostgreSQL + Redis with two gateway replicas.
"""

from __future__ import annotations

import asyncio
import itertools
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

from modelyard.gateway.app import ROUTES, Gateway
from modelyard.gateway.metrics import Metrics
from modelyard.runtime import Runtime
from modelyard.services.context import Services
from modelyard.services.hosted import HostedConfig, HostedProvider
from tests.fakes.loopback import served
from tests.fakes.openai import FakeOpenAI, Recorded, chat_chunk, completion, sse, usage_chunk
from tests.support import SECRET, eventually, make_settings, redis_url, require_postgres, require_redis, serve

MODEL = "deepseek/deepseek-flash"
TRIAL = 5  # calls


class EchoingOpenAI(FakeOpenAI):
    """Answers each chat with its prompt; while `gate` is closed, calls wait upstream (pile up in flight)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()

    async def _default_chat(self, recorded: Recorded) -> web.StreamResponse:
        await self.gate.wait()
        body = recorded.json
        text = f"echo: {body['messages'][-1]['content']}"
        if body.get("stream"):
            events = sse(chat_chunk({"role": "assistant", "content": text}), chat_chunk({}, "stop"), usage_chunk(9, 3))
            return web.Response(body=events, content_type="text/event-stream")
        return web.json_response(completion(text))


@dataclass
class Deployment:
    replicas: list[Services]
    urls: list[str]  # one gateway per replica
    workspace_id: str
    api_key: str
    upstream: EchoingOpenAI
    http: aiohttp.ClientSession

    def url(self, number: int) -> str:
        """Calls alternate between the replicas."""
        return self.urls[number % len(self.urls)]

    async def chat(
        self, prompt: str, *, key: str | None, number: int = 0, stream: bool = False, api_key: str | None = None
    ) -> tuple[int, CIMultiDict[str], bytes]:
        headers = {"Authorization": f"Bearer {api_key or self.api_key}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        body = {"model": MODEL, "messages": [{"role": "user", "content": prompt}], "stream": stream}
        async with self.http.post(f"{self.url(number)}/v1/chat/completions", json=body, headers=headers) as response:
            return response.status, CIMultiDict(response.headers), await response.read()

    async def spent(self) -> int:
        """Hosted calls spent: the ledger's sum, checked against the quota's `used`."""
        services = self.replicas[0]
        for replica in self.replicas:
            await replica.invoker.drain()
            await replica.quota.flush()
        (status,) = await services.quota.status(workspace_id=self.workspace_id)
        ledger = await services.quota.ledger(workspace_id=self.workspace_id)
        assert sum(entry.amount for entry in ledger) == status.used
        return status.used


@pytest.fixture(params=["sqlite", "postgres", "postgres+redis"])
def setup(request: pytest.FixtureRequest) -> str:
    if request.param.startswith("postgres"):
        require_postgres()
    if request.param.endswith("redis"):
        require_redis()
    return str(request.param)


@pytest.fixture
def backend(setup: str) -> str:
    return setup.partition("+")[0]  # the root conftest's `database` makes a file or a schema for it


@pytest.fixture
async def upstream() -> AsyncIterator[EchoingOpenAI]:
    async with served(EchoingOpenAI()) as fake:
        yield fake


@pytest.fixture
async def deployment(
    setup: str, database: tuple[str, str | None], tmp_path: Path, runtime: Runtime, upstream: EchoingOpenAI
) -> AsyncIterator[Deployment]:
    """The service with a hosted deepseek trial of TRIAL calls; on PostgreSQL, two replicas on one database (and
    one Redis), each with its own gateway socket."""
    backend, schema = database
    shared = redis_url() if setup.endswith("redis") else None
    hosted = HostedProvider("deepseek", {"api_key": SECRET, "endpoint_url": f"{upstream.url}/v1"}, "trial", "times", 5)
    settings = make_settings(tmp_path, backend, schema, redis_url=shared)
    replicas = [
        Services(settings, runtime=runtime, hosted=HostedConfig(providers={"deepseek": hosted}))
        for _ in range(1 if backend == "sqlite" else 2)
    ]
    for replica in replicas:
        await replica.start()
    workspace = (await replicas[0].workspaces.create("Idempotent")).id
    _, key = await replicas[0].api_keys.create(workspace_id=workspace, name="tests")
    servers = [await serve(Gateway(replica, Metrics())) for replica in replicas]
    try:
        async with aiohttp.ClientSession() as http:
            yield Deployment(replicas, [url for _, _, url in servers], workspace, key, upstream, http)
    finally:
        for server, task, _ in servers:
            server.should_exit = True
            await task
        for replica in replicas:
            await replica.close()
        if shared is not None:
            await _forget_redis_keys(shared, workspace)


async def _forget_redis_keys(url: str, workspace_id: str) -> None:
    client = redis.from_url(url)
    try:
        for pattern in (f"modelyard:quota:{{{workspace_id}:*", f"modelyard:idempotency:{workspace_id}:*"):
            async for key in client.scan_iter(match=pattern):
                await client.delete(key)
    finally:
        await client.aclose()


def error_code(body: bytes) -> str:
    return str(orjson.loads(body)["error"]["code"])


# --- the free pass, closed ------------------------------------------------------------------------------------------


async def test_one_key_answers_one_prompt_once_and_refuses_every_other_prompt(deployment: Deployment) -> None:
    status, headers, first = await deployment.chat("prompt 0", key="order-42")
    assert status == 200
    assert orjson.loads(first)["choices"][0]["message"]["content"] == "echo: prompt 0"

    outcomes = [await deployment.chat(f"prompt {n}", key="order-42", number=n) for n in range(1, 43)]
    assert {status for status, _, _ in outcomes} == {422}
    assert {error_code(body) for _, _, body in outcomes} == {"idempotency_key_reused"}
    assert orjson.loads(outcomes[0][2])["error"]["param"] == "Idempotency-Key"

    status, replayed_headers, replayed = await deployment.chat("prompt 0", key="order-42", number=1)
    assert (status, replayed) == (200, first)
    assert replayed_headers["idempotent-replayed"] == "true"
    assert replayed_headers["x-modelyard-provider-type"] == headers["x-modelyard-provider-type"] == "system"
    assert replayed_headers["x-request-id"] != headers["x-request-id"]  # this request's own id

    assert len(deployment.upstream.requests) == 1
    assert await deployment.spent() == 1  # of a trial of 5: the repeats spent nothing


async def test_concurrent_repeats_wait_for_the_first_answer_and_never_reach_the_upstream(
    deployment: Deployment,
) -> None:
    upstream = deployment.upstream
    upstream.gate.clear()
    calls = [asyncio.ensure_future(deployment.chat("Hi", key="retry-me", number=n)) for n in range(20)]
    await eventually(lambda: len(upstream.requests) == 1, "the first call to reach the upstream")
    upstream.gate.set()
    outcomes = await asyncio.gather(*calls)

    answered = [body for status, _, body in outcomes if status == 200]
    refused = [headers for status, headers, _ in outcomes if status == 409]
    assert len(answered) + len(refused) == 20
    assert answered and len(set(answered)) == 1  # the same answer, byte for byte
    assert all(headers["retry-after"] == "1" for headers in refused)
    assert len(upstream.requests) == 1
    assert await deployment.spent() == 1


async def test_a_streamed_answer_is_replayed_as_the_same_event_stream(deployment: Deployment) -> None:
    status, headers, first = await deployment.chat("Stream it", key="stream-1", stream=True)
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    assert b"echo: Stream it" in first and first.endswith(b"data: [DONE]\n\n")

    for number in (1, 2):
        status, replayed_headers, replayed = await deployment.chat(
            "Stream it", key="stream-1", stream=True, number=number
        )
        assert (status, replayed) == (200, first)
        assert replayed_headers["content-type"] == headers["content-type"]
    assert len(deployment.upstream.requests) == 1
    assert await deployment.spent() == 1


async def test_the_trial_is_spent_only_by_calls_without_a_kept_answer(deployment: Deployment) -> None:
    keys = itertools.cycle(["a", "b", "c"])
    for number in range(12):
        key = next(keys)
        status, _, _ = await deployment.chat(f"about {key}", key=key, number=number)
        assert status == 200
    assert len(deployment.upstream.requests) == 3
    assert await deployment.spent() == 3
    for number in range(TRIAL - 3):
        assert (await deployment.chat("fresh", key=None, number=number))[0] == 200
    status, _, body = await deployment.chat("one too many", key="d")
    assert (status, error_code(body)) == (429, "insufficient_quota")
    assert (await deployment.chat("about a", key="a"))[0] == 200  # a kept answer is still replayed


# --- what is kept, and for whom (SQLite, one replica) ---------------------------------------------------------------


@pytest.fixture
async def one(gateway: Any) -> AsyncIterator[tuple[Any, aiohttp.ClientSession]]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {gateway.api_key}"}) as http:
        yield gateway, http


async def post(
    http: aiohttp.ClientSession, url: str, body: dict[str, Any], key: str | None, **headers: str
) -> tuple[int, CIMultiDict[str], bytes]:
    if key is not None:
        headers["Idempotency-Key"] = key
    async with http.post(url, json=body, headers=headers) as response:
        return response.status, CIMultiDict(response.headers), await response.read()


HI = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}


async def test_a_key_belongs_to_its_api_key(one: Any, fake_openai: FakeOpenAI) -> None:
    gateway, http = one
    _, other_key = await gateway.services.api_keys.create(workspace_id=gateway.workspace_id, name="other")
    url = f"{gateway.url}/v1/chat/completions"
    assert (await post(http, url, HI, "k1"))[0] == 200
    status, headers, _ = await post(http, url, HI, "k1", Authorization=f"Bearer {other_key}")
    assert status == 200 and "idempotent-replayed" not in headers
    assert len(fake_openai.requests) == 2


async def test_a_retryable_failure_is_not_kept_so_a_retry_reaches_the_upstream(
    one: Any, fake_openai: FakeOpenAI
) -> None:
    gateway, http = one
    url = f"{gateway.url}/v1/chat/completions"
    fake_openai.fail(503, "overloaded", type="server_error")
    status, _, body = await post(http, url, HI, "k1")
    assert (status, error_code(body)) == (503, "upstream_unavailable")
    fake_openai.fail(429, "slow down", headers={"Retry-After": "3"})
    assert (await post(http, url, HI, "k1"))[0] == 429
    status, _, answer = await post(http, url, HI, "k1")
    assert status == 200
    replayed = await post(http, url, HI, "k1")
    assert (replayed[0], replayed[2], replayed[1]["idempotent-replayed"]) == (200, answer, "true")
    assert len(fake_openai.requests) == 3


async def test_a_refused_request_is_kept_and_replayed(one: Any, fake_openai: FakeOpenAI) -> None:
    gateway, http = one
    url = f"{gateway.url}/v1/chat/completions"
    fake_openai.fail(400, "messages are malformed")
    first = await post(http, url, HI, "k1")
    replayed = await post(http, url, HI, "k1")
    assert first[0] == replayed[0] == 400 and first[2] == replayed[2]
    assert error_code(replayed[2]) == "upstream_bad_request"
    bad = {"model": MODEL, "messages": "not a list"}
    assert (await post(http, url, bad, "k2"))[0] == (await post(http, url, bad, "k2"))[0] == 400
    assert len(fake_openai.requests) == 1


async def test_a_stream_that_broke_is_not_kept(one: Any, fake_openai: FakeOpenAI) -> None:
    gateway, http = one
    url = f"{gateway.url}/v1/chat/completions"
    fake_openai.stream(
        sse(chat_chunk({"content": "Hel"}), chat_chunk({"content": "lo"}, "stop")), piece_size=20, drop_after=1
    )
    body = {**HI, "stream": True}
    status, _, broken = await post(http, url, body, "k1")
    assert status == 200 and b'"error"' in broken
    status, headers, whole = await post(http, url, body, "k1")
    assert status == 200 and "idempotent-replayed" not in headers and b'"error"' not in whole
    assert len(fake_openai.requests) == 2


async def test_a_repeat_waits_a_bounded_time_then_gets_409_with_retry_after(one: Any, fake_openai: FakeOpenAI) -> None:
    gateway, http = one
    gateway.services.idempotency.wait_s = 0.2
    url = f"{gateway.url}/v1/chat/completions"
    fake_openai.stall(2.0)
    first = asyncio.ensure_future(post(http, url, HI, "slow"))
    await eventually(lambda: len(fake_openai.requests) == 1, "the first call to reach the upstream")
    status, headers, body = await post(http, url, HI, "slow")
    assert (status, headers["retry-after"], error_code(body)) == (409, "1", "idempotency_key_in_use")
    assert (await first)[0] == 200
    assert len(fake_openai.requests) == 1


async def test_the_key_used_on_another_route_is_refused(one: Any, fake_openai: FakeOpenAI) -> None:
    gateway, http = one
    assert (await post(http, f"{gateway.url}/v1/chat/completions", HI, "k1"))[0] == 200
    status, _, body = await post(http, f"{gateway.url}/v1/embeddings", {"model": "default", "input": "Hi"}, "k1")
    assert (status, error_code(body)) == (422, "idempotency_key_reused")


async def test_anthropic_callers_get_the_refusal_in_anthropic_shape(one: Any, fake_openai: FakeOpenAI) -> None:
    gateway, http = one
    url = f"{gateway.url}/v1/messages"
    message = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}
    first = await post(http, url, message, "k1")
    assert first[0] == 200
    replayed = await post(http, url, message, "k1")
    assert (replayed[0], replayed[2]) == (200, first[2])
    status, _, body = await post(http, url, {**message, "max_tokens": 65}, "k1")
    assert status == 422
    assert orjson.loads(body)["type"] == "error"
    assert orjson.loads(body)["error"]["type"] == "invalid_request_error"
    assert len(fake_openai.requests) == 1


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "naïve", "tab\there"])
async def test_a_malformed_key_is_a_400_naming_the_header(one: Any, fake_openai: FakeOpenAI, key: str) -> None:
    gateway, http = one
    headers = {"Idempotency-Key": key.encode("utf-8").decode("latin-1")}
    async with http.post(f"{gateway.url}/v1/chat/completions", json=HI, headers=headers) as response:
        body = orjson.loads(await response.read())
    assert (response.status, body["error"]["param"]) == (400, "Idempotency-Key")
    assert fake_openai.requests == []


async def test_a_structured_field_string_key_is_the_same_key_as_the_bare_one(one: Any, fake_openai: FakeOpenAI) -> None:
    gateway, http = one
    url = f"{gateway.url}/v1/chat/completions"
    assert (await post(http, url, HI, '"8e03978e-40d5-43e8-bc93-6894a57f9324"'))[0] == 200
    _, headers, _ = await post(http, url, HI, "8e03978e-40d5-43e8-bc93-6894a57f9324")
    assert headers["idempotent-replayed"] == "true"
    assert len(fake_openai.requests) == 1


async def test_an_upload_retried_with_a_new_multipart_boundary_is_the_same_call(
    one: Any, fake_openai: FakeOpenAI, openai_credentials: dict[str, str]
) -> None:
    gateway, http = one
    await gateway.services.credentials.create(
        workspace_id=gateway.workspace_id, provider="openai", values=openai_credentials, validate=False
    )
    answers = []
    for _ in range(2):  # aiohttp draws a new boundary for each form
        form = aiohttp.FormData()
        form.add_field("model", "openai/whisper-1")
        form.add_field("file", b"RIFFfake-audio", filename="a.wav", content_type="audio/wav")
        async with http.post(
            f"{gateway.url}/v1/audio/transcriptions", data=form, headers={"Idempotency-Key": "upload-1"}
        ) as response:
            answers.append((response.status, await response.read()))
    assert answers[0] == answers[1] and answers[0][0] == 200
    assert len(fake_openai.requests) == 1


# Every POST route keeps its first answer: a route added to the gateway without a request here fails the test.
REQUESTS: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": HI,
    "/v1/messages": {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]},
    "/v1/responses": {"model": MODEL, "input": "Hi"},
    "/v1/embeddings": {"model": "openai/text-embedding-3-small", "input": "Hi"},
    "/v1/rerank": {"model": "bge-reranker", "query": "q", "documents": ["a", "b"]},
    "/v1/moderations": {"model": "openai/omni-moderation-latest", "input": "Hi"},
    "/v1/audio/speech": {"model": "openai/tts-1", "input": "Hello", "voice": "alloy"},
    "/v1/audio/transcriptions": {"model": "openai/whisper-1"},  # sent as multipart, with a file
    "/v1/tasks/conversation-title": {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]},
    "/v1/tasks/suggested-questions": {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]},
}


@pytest.mark.parametrize("route", sorted(path for method, path in ROUTES if method == "POST"))
async def test_every_post_route_replays_its_first_answer(
    one: Any, fake_openai: FakeOpenAI, openai_credentials: dict[str, str], route: str
) -> None:
    gateway, http = one
    workspace = gateway.workspace_id
    await gateway.services.credentials.create(
        workspace_id=workspace, provider="openai", values=openai_credentials, validate=False
    )
    await gateway.services.models.add_custom(
        workspace_id=workspace,
        provider="xinference",
        model="bge-reranker",
        model_type="rerank",
        values={"server_url": fake_openai.url, "model_uid": "bge"},
        validate=False,
    )
    answers, upstream_calls = [], []
    for _ in range(2):
        if route == "/v1/audio/transcriptions":
            form = aiohttp.FormData(REQUESTS[route])
            form.add_field("file", b"RIFFfake-audio", filename="a.wav", content_type="audio/wav")
            async with http.post(f"{gateway.url}{route}", data=form, headers={"Idempotency-Key": "k1"}) as response:
                answers.append((response.status, CIMultiDict(response.headers), await response.read()))
        else:
            answers.append(await post(http, f"{gateway.url}{route}", REQUESTS[route], "k1"))
        upstream_calls.append(len(fake_openai.requests))
    (status, _, first), (again, headers, replayed) = answers
    assert (status, again, replayed) == (200, 200, first)
    assert headers["idempotent-replayed"] == "true"
    assert upstream_calls[0] >= 1 and upstream_calls[1] == upstream_calls[0]  # the repeat called nothing
