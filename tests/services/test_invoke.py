"""Workspace-level invocation: provider type, hosted quota, load balancing and usage, end to end."""

from __future__ import annotations

import pytest

from modelyard.errors import (
    HostedQuotaExceededError,
    InvalidRequestError,
    UpstreamBadRequestError,
    UpstreamRateLimitError,
    UpstreamUnavailableError,
)
from modelyard.services.hosted import HostedConfig, HostedProvider
from modelyard.services.invoke import NoCredentialAvailableError
from modelyard.types import ChatRequest, EmbeddingRequest, Message
from tests.fakes.openai import chat_chunk, sse, usage_chunk
from tests.support import SECRET

HOSTED_KEY = "sk-hosted-0011223344556677"
HI = ChatRequest(messages=(Message.user("Hi"),))


@pytest.fixture
def hosted(fake_openai) -> HostedConfig:
    return HostedConfig(
        providers={
            "deepseek": HostedProvider(
                provider="deepseek",
                credentials={"api_key": HOSTED_KEY, "endpoint_url": f"{fake_openai.url}/v1"},
                quota_type="trial",
                unit="times",
                limit=2,
            )
        }
    )


async def chat(services, workspace: str, **kwargs):
    return await services.invoker.chat(workspace_id=workspace, model="deepseek/deepseek-flash", request=HI, **kwargs)


async def test_hosted_trial_serves_until_exhausted_then_says_so(services, workspace, fake_openai) -> None:
    for _ in range(2):
        invocation = await chat(services, workspace)
        assert invocation.provider_type == "system"
        assert fake_openai.last.headers["authorization"] == f"Bearer {HOSTED_KEY}"
    with pytest.raises(HostedQuotaExceededError, match="deepseek"):
        await chat(services, workspace)
    await services.invoker.drain()
    await services.quota.flush()
    status = {s.provider: s for s in await services.quota.status(workspace_id=workspace)}
    assert (status["deepseek"].used, status["deepseek"].is_exhausted) == (2, True)


async def test_exhausted_hosted_quota_falls_back_to_the_workspaces_own_key(
    services, workspace, fake_openai, deepseek
) -> None:
    await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek, validate=False)
    await services.providers.set_preferred_type(workspace_id=workspace, provider="deepseek", preferred_type="system")
    types = [(await chat(services, workspace)).provider_type for _ in range(3)]
    assert types == ["system", "system", "custom"]
    assert fake_openai.last.headers["authorization"] == f"Bearer {SECRET}"


async def test_a_failed_call_gives_its_reservation_back(services, workspace, fake_openai) -> None:
    fake_openai.fail(500, "boom")
    with pytest.raises(UpstreamUnavailableError, match="boom"):
        await chat(services, workspace)
    await services.invoker.drain()
    await services.quota.flush()
    status = {s.provider: s for s in await services.quota.status(workspace_id=workspace)}
    assert status["deepseek"].used == 0


async def test_usage_is_recorded_off_the_hot_path_and_aggregated(services, workspace, fake_openai, deepseek) -> None:
    await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek, validate=False)
    fake_openai.reply_chat("x", usage=(1_000, 100))
    await chat(services, workspace, api_key_id="key_abc")
    fake_openai.stream(sse(chat_chunk({"content": "Hi"}, "stop"), usage_chunk(10, 5)))
    invocation = await chat(services, workspace, stream=True)
    async for _ in invocation.result:
        pass
    fake_openai.fail(400, "bad")
    with pytest.raises(UpstreamBadRequestError, match="bad"):
        await chat(services, workspace)
    assert await services.usage.records(workspace_id=workspace) == []  # buffered, not yet written
    await services.usage.flush()
    records = await services.usage.records(workspace_id=workspace)
    assert sorted((r.status, r.prompt_tokens) for r in records) == [("error", 0), ("success", 10), ("success", 1000)]
    rows = await services.usage.aggregate(workspace_id=workspace, group_by=("provider", "model"))
    assert [(r.provider, r.model, r.calls, r.errors, r.prompt_tokens) for r in rows] == [
        ("deepseek", "deepseek-flash", 3, 1, 1010)
    ]


async def test_load_balancing_spreads_by_weight_and_fails_over_on_rate_limits(
    services, workspace, fake_openai, deepseek
) -> None:
    await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek, validate=False)
    common = dict(workspace_id=workspace, provider="deepseek", model="deepseek-flash", model_type="llm")
    for name, key, weight in (("heavy", "sk-heavy-00000000000001", 2), ("light", "sk-light-00000000000002", 1)):
        await services.pools.add(
            **common,
            name=name,
            weight=weight,
            validate=False,
            values={"api_key": key, "endpoint_url": deepseek["endpoint_url"]},
        )
    await services.models.set_load_balancing(**common, enabled=True)

    for _ in range(8):  # the provider's active credential is an entry too (weight 1), as in Dify
        await chat(services, workspace)
    keys = [r.headers["authorization"].split()[-1] for r in fake_openai.requests]
    assert sorted(keys) == sorted([SECRET] * 2 + ["sk-heavy-00000000000001"] * 4 + ["sk-light-00000000000002"] * 2)

    fake_openai.requests.clear()
    fake_openai.fail(429, "slow down", code="rate_limit_exceeded", headers={"Retry-After": "30"})
    await chat(services, workspace)  # the first pick is rate limited: the call moves to the other entry
    assert len(fake_openai.requests) == 2
    assert fake_openai.requests[0].headers["authorization"] != fake_openai.requests[1].headers["authorization"]
    entries = await services.pools.list(**common)
    assert sorted(e.live_status for e in entries) == ["available", "available", "cooling"]


async def test_when_every_pool_entry_cools_down_the_error_says_so(services, workspace, fake_openai, deepseek) -> None:
    common = dict(workspace_id=workspace, provider="deepseek", model="deepseek-flash", model_type="llm")
    await services.pools.add(**common, name="only", values=deepseek, validate=False)
    await services.models.set_load_balancing(**common, enabled=True)
    fake_openai.fail(429, "slow down", code="rate_limit_exceeded", headers={"Retry-After": "30"})
    with pytest.raises(UpstreamRateLimitError):
        await chat(services, workspace)
    with pytest.raises(NoCredentialAvailableError, match="cooling down"):
        await chat(services, workspace)


async def test_embeddings_through_a_custom_model(services, workspace, fake_openai) -> None:
    await services.models.add_custom(
        workspace_id=workspace,
        provider="xinference",
        model="bge",
        model_type="text-embedding",
        values={"server_url": fake_openai.url, "model_uid": "bge-uid"},
        validate=False,
    )
    invocation = await services.invoker.embed(workspace_id=workspace, model="bge", request=EmbeddingRequest(("a", "b")))
    assert len(invocation.result.vectors) == 2
    assert (invocation.provider, invocation.provider_type) == ("xinference", "custom")


async def test_the_active_credential_is_a_pool_entry_that_follows_the_active_one(
    services, workspace, fake_openai, deepseek
) -> None:
    common = dict(workspace_id=workspace, provider="deepseek", model="deepseek-flash", model_type="llm")
    assert await services.pools.list(**common) == []  # no credentials of its own: nothing stands for them
    first = await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek)
    (shown,) = await services.pools.list(**common)
    assert (shown.is_inherit, shown.id, shown.credential_id, shown.status) == (True, "", first.id, "verified")

    await services.models.set_load_balancing(**common, enabled=True)
    (inherit,) = await services.pools.list(**common)
    assert inherit.is_inherit and inherit.id
    await services.pools.update(workspace_id=workspace, entry_id=inherit.id, weight=3)
    await services.pools.add(**common, name="other", values=deepseek | {"api_key": "sk-other-0000000001"})
    await chat(services, workspace)
    assert fake_openai.last.headers["authorization"] == f"Bearer {SECRET}"  # weight 3 of 4: the first pick

    second = await services.credentials.create(
        workspace_id=workspace, provider="deepseek", values=deepseek | {"api_key": "sk-second-000000002"}
    )
    await services.credentials.activate(workspace_id=workspace, credential_id=second.id)
    fake_openai.requests.clear()
    for _ in range(4):
        await chat(services, workspace)
    keys = sorted(r.headers["authorization"].split()[-1] for r in fake_openai.requests)
    assert keys == ["sk-other-0000000001"] + ["sk-second-000000002"] * 3  # the entry follows the active one

    with pytest.raises(InvalidRequestError):
        await services.pools.delete(workspace_id=workspace, entry_id=inherit.id)
    with pytest.raises(InvalidRequestError):
        await services.pools.update(workspace_id=workspace, entry_id=inherit.id, values={"api_key": "sk-x"})
    with pytest.raises(InvalidRequestError):
        await services.pools.add(**common, name="__inherit__", values=deepseek)
    await services.pools.update(workspace_id=workspace, entry_id=inherit.id, enabled=False)
    fake_openai.requests.clear()
    await chat(services, workspace)
    await chat(services, workspace)
    assert {r.headers["authorization"] for r in fake_openai.requests} == {"Bearer sk-other-0000000001"}
