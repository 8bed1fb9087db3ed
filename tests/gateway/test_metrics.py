"""Every answer is counted by its status, and metric labels stay bounded: a model is named only when the catalog
lists it for its provider, a route only when the gateway serves it."""

from __future__ import annotations

import aiohttp

from modelyard.gateway.metrics import CUSTOM_MODEL_LABEL, Metrics
from modelyard.types import Usage
from tests.fakes.openai import FakeOpenAI


def test_catalog_models_are_labelled_and_custom_ones_collapse() -> None:
    metrics = Metrics()

    assert metrics.model_label("deepseek", "deepseek-flash") == "deepseek-flash"
    assert metrics.model_label("deepseek", "my-fine-tune") == CUSTOM_MODEL_LABEL
    assert metrics.model_label("ollama", "llama3.1:8b-acme") == CUSTOM_MODEL_LABEL
    assert metrics.model_label("no_such_provider", "deepseek-flash") == CUSTOM_MODEL_LABEL


def test_a_thousand_custom_names_make_one_series() -> None:
    metrics = Metrics()

    for number in range(1000):
        metrics.usage(
            "openai_api_compatible", f"tenant-model-{number}", Usage(prompt_tokens=2, completion_tokens=1), "custom"
        )

    samples = [s for m in metrics.registry.collect() if m.name == "modelyard_tokens" for s in m.samples]
    models = {s.labels["model"] for s in samples if s.name == "modelyard_tokens_total"}
    assert models == {CUSTOM_MODEL_LABEL}
    prompt = next(s for s in samples if s.name == "modelyard_tokens_total" and s.labels["kind"] == "prompt")
    assert prompt.value == 2000


def requests_by_status(metrics: Metrics) -> dict[tuple[str, str], float]:
    samples = [s for m in metrics.registry.collect() if m.name == "modelyard_requests" for s in m.samples]
    return {(s.labels["route"], s.labels["status"]): s.value for s in samples if s.name == "modelyard_requests_total"}


async def test_every_answer_is_counted_by_its_status(gateway, fake_openai: FakeOpenAI) -> None:
    chat = {"model": "deepseek/deepseek-flash", "messages": [{"role": "user", "content": "Hi"}]}
    anthropic = {**chat, "max_tokens": 5}
    fake_openai.reply_chat("Hello")
    fake_openai.fail(429, "slow down", type="rate_limit_error", headers={"Retry-After": "3"})
    fake_openai.fail(401, "Authentication Fails", type="authentication_error")  # our stored key: a 502
    headers = {"Authorization": f"Bearer {gateway.api_key}"}
    async with aiohttp.ClientSession(base_url=gateway.url, headers=headers) as session:
        statuses = []
        for body in (chat, chat, chat, {"model": "deepseek/deepseek-flash"}):
            async with session.post("/v1/chat/completions", json=body) as answer:
                statuses.append(answer.status)
        async with session.post("/v1/messages", json={**anthropic, "max_tokens": "many"}) as answer:
            statuses.append(answer.status)
        async with session.get("/v1/models", headers={"Authorization": "Bearer sk-nobody"}) as answer:
            statuses.append(answer.status)
        async with session.get("/v1/no/such/route/42") as answer:
            statuses.append(answer.status)

    assert statuses == [200, 429, 502, 400, 400, 401, 404]
    counted = requests_by_status(gateway.metrics)
    assert {status: counted[("/v1/chat/completions", status)] for status in ("200", "429", "502", "400")} == {
        "200": 1,
        "429": 1,
        "502": 1,
        "400": 1,
    }
    assert counted[("/v1/messages", "400")] == 1  # an error answered in Anthropic's shape by its own route
    assert counted[("/v1/models", "401")] == 1
    assert counted[("unmatched", "404")] == 1  # never the raw path: the caller chooses it
    assert sum(counted.values()) == len(statuses)
