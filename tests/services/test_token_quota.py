"""A hosted token quota under concurrent calls through the invoker: reserve the worst case, settle the real usage.

Every test runs on SQLite and PostgreSQL, counted by the database or by Redis.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis
from aiohttp import web

from modelyard.errors import HostedQuotaExceededError
from modelyard.runtime import Runtime, tokenizer
from modelyard.services.context import Services
from modelyard.services.hosted import HostedConfig, HostedProvider
from modelyard.types import ChatRequest, Message
from tests.fakes.loopback import served
from tests.fakes.openai import FakeOpenAI, Recorded, chat_chunk, completion, sse, usage_chunk
from tests.support import SECRET, eventually, make_settings, redis_url, require_redis

LIMIT = 1000
MODEL = "deepseek/deepseek-flash"  # max_output_tokens 393,216 in the catalog
HI = (Message.user("Hi"),)
PROMPT = tokenizer.count_prompt(ChatRequest(messages=HI))


class MeteredOpenAI(FakeOpenAI):
    """A provider that meters honestly: prompt tokens as OpenAI counts them (o200k, 3 per message and 3 to prime
    the reply), and an answer of its own length cut at the request's max_tokens; `ignore_max_tokens` answers that
    many calls in full whatever max_tokens says. While `gate` is closed, answers wait: calls pile up in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.answer_lengths = itertools.cycle(range(20, 91, 7))
        self.ignore_max_tokens = 0
        self.charged: list[tuple[int | None, int]] = []  # (max_tokens asked, tokens reported) per answer
        self.gate = asyncio.Event()
        self.gate.set()

    async def _default_chat(self, recorded: Recorded) -> web.StreamResponse:
        await self.gate.wait()
        body = recorded.json
        prompt = 3 + sum(3 + tokenizer.count_text(message["content"]) for message in body["messages"])
        max_tokens = body.get("max_tokens")
        answer = next(self.answer_lengths)
        if self.ignore_max_tokens:
            self.ignore_max_tokens -= 1
            answer = 500
        elif max_tokens is not None:
            answer = min(answer, max_tokens)
        self.charged.append((max_tokens, prompt + answer))
        if body.get("stream"):
            events = sse(
                chat_chunk({"role": "assistant", "content": "x" * answer}, "stop"), usage_chunk(prompt, answer)
            )
            return web.Response(body=events, content_type="text/event-stream")
        return web.json_response(completion("x" * answer, usage=(prompt, answer)))


@pytest.fixture
async def upstream() -> AsyncIterator[MeteredOpenAI]:
    async with served(MeteredOpenAI()) as fake:
        yield fake


@pytest.fixture(params=["database-counter", "redis-counter"])
def counter(request: pytest.FixtureRequest) -> str | None:
    """The Redis URL when Redis counts the quota, None when the database does."""
    if request.param == "redis-counter":
        require_redis()
        return redis_url()
    return None


@pytest.fixture
async def services(
    database: tuple[str, str | None], tmp_path: Path, runtime: Runtime, counter: str | None, upstream: MeteredOpenAI
) -> AsyncIterator[Services]:
    backend, schema = database
    hosted = HostedProvider(
        "deepseek", {"api_key": SECRET, "endpoint_url": f"{upstream.url}/v1"}, "trial", "tokens", LIMIT
    )
    services = Services(
        make_settings(tmp_path, backend, schema, redis_url=counter),
        runtime=runtime,
        hosted=HostedConfig(providers={"deepseek": hosted}),
    )
    await services.start()
    workspaces: list[str] = []
    create = services.workspaces.create

    async def create_and_remember(name: str) -> Any:
        view = await create(name)
        workspaces.append(view.id)
        return view

    services.workspaces.create = create_and_remember  # type: ignore[method-assign]
    try:
        yield services
    finally:
        await services.close()
        if counter is not None:
            client = redis.from_url(counter)
            try:
                for workspace_id in workspaces:
                    async for key in client.scan_iter(match=f"modelyard:quota:{{{workspace_id}:*"):
                        await client.delete(key)
            finally:
                await client.aclose()


@pytest.fixture
async def workspace(services: Services) -> str:
    return (await services.workspaces.create("Acme")).id


async def chat(services: Services, workspace: str, *, max_tokens: int | None, stream: bool = False) -> None:
    invocation = await services.invoker.chat(
        workspace_id=workspace, model=MODEL, request=ChatRequest(messages=HI, max_tokens=max_tokens), stream=stream
    )
    if stream:
        async for _ in invocation.result:  # type: ignore[union-attr]
            pass


async def all_at_once(upstream: MeteredOpenAI, calls: list[Coroutine[Any, Any, None]]) -> list[BaseException | None]:
    """Run the calls with every admitted one in flight upstream before any is answered (and settled)."""
    upstream.gate.clear()
    tasks = [asyncio.ensure_future(call) for call in calls]
    await eventually(
        lambda: sum(task.done() for task in tasks) + len(upstream.requests) == len(tasks),
        "every call refused or waiting upstream",
    )
    upstream.gate.set()
    return await asyncio.gather(*tasks, return_exceptions=True)


async def spent(services: Services, workspace: str, upstream: MeteredOpenAI) -> tuple[int, int]:
    """Tokens spent (the ledger's sum, checked against `used`, once every lease is settled) and the most one call
    spent beyond its reservation, which is at least its prompt and the max_tokens it was sent with."""
    await services.invoker.drain()
    await services.quota.flush()  # every lease settled too
    ledger = await services.quota.ledger(workspace_id=workspace)
    (status,) = await services.quota.status(workspace_id=workspace)
    total = sum(entry.amount for entry in ledger)
    assert total == status.used
    opened = {entry.reservation_id for entry in ledger if entry.kind == "reserve"}
    assert opened == {entry.reservation_id for entry in ledger if entry.kind != "reserve"}  # every lease settled
    beyond = max((tokens - PROMPT - asked for asked, tokens in upstream.charged if asked is not None), default=0)
    return total, max(beyond, 0)


async def test_500_concurrent_calls_spend_no_more_than_the_limit_plus_one_calls_excess(
    services: Services, workspace: str, upstream: MeteredOpenAI
) -> None:
    upstream.ignore_max_tokens = 1  # one answer of 500 tokens, past its reservation of PROMPT + 64

    outcomes = await all_at_once(
        upstream, [chat(services, workspace, max_tokens=64, stream=index % 2 == 1) for index in range(500)]
    )

    assert all(o is None or isinstance(o, HostedQuotaExceededError) for o in outcomes), outcomes[:3]
    total, beyond = await spent(services, workspace, upstream)
    assert total == sum(tokens for _, tokens in upstream.charged)  # what the provider metered is what was spent
    assert beyond >= 500 - 64  # its reservation was PROMPT + 64, or less if it was the one capped
    assert total <= LIMIT + beyond
    print(
        f"token quota {LIMIT}: {sum(o is None for o in outcomes)} of 500 calls served, {total} spent, "
        f"overshoot {max(total - LIMIT, 0)} <= one call's excess {beyond}"
    )


async def test_calls_that_keep_to_their_reservations_never_pass_the_limit(
    services: Services, workspace: str, upstream: MeteredOpenAI
) -> None:
    outcomes = await all_at_once(
        upstream,
        [
            chat(services, workspace, max_tokens=None if index % 50 == 10 else 40, stream=index % 2 == 1)
            for index in range(200)
        ],
    )

    assert all(o is None or isinstance(o, HostedQuotaExceededError) for o in outcomes), outcomes[:3]
    total, beyond = await spent(services, workspace, upstream)
    assert (beyond, total <= LIMIT) == (0, True)
    assert total == sum(tokens for _, tokens in upstream.charged)
    print(f"token quota {LIMIT}: {sum(o is None for o in outcomes)} of 200 calls served, {total} spent")


async def test_a_call_reserved_with_less_than_its_estimate_is_sent_with_max_tokens_lowered_to_fit(
    services: Services, workspace: str, upstream: MeteredOpenAI
) -> None:
    await chat(services, workspace, max_tokens=None)  # the model's output limit is far more than 1,000
    await spent(services, workspace, upstream)
    left = LIMIT - upstream.charged[0][1]
    await chat(services, workspace, max_tokens=5)  # fits: sent as asked
    await chat(services, workspace, max_tokens=5_000)  # does not: cut to what remains, its own lease's rest included
    await spent(services, workspace, upstream)

    assert [asked for asked, _ in upstream.charged] == [LIMIT - PROMPT, 5, left - (PROMPT + 5) - PROMPT]
    reserved = [
        entry.amount for entry in await services.quota.ledger(workspace_id=workspace) if entry.kind == "reserve"
    ]
    assert reserved[0] == LIMIT  # the first call's lease: all there was; then the others' lease and its top-up
