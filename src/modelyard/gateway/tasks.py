"""POST /v1/tasks/conversation-title and /v1/tasks/suggested-questions: the system model's tasks.

Under `/v1/tasks/`, not `/v1/conversations/...`: OpenAI's Conversations API owns `POST /v1/conversations/{id}`,
where `title` would read as a conversation id.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson

from modelyard.errors import InvalidRequestError
from modelyard.gateway.chat import invocation_headers
from modelyard.gateway.exchange import Exchange
from modelyard.gateway.metrics import Metrics
from modelyard.services import conversation_tasks
from modelyard.services.invoke import Invocation
from modelyard.types import Usage

if TYPE_CHECKING:
    from modelyard.services.api_keys import ApiKeyIdentity
    from modelyard.services.context import Services

TITLE_ROUTE = "/v1/tasks/conversation-title"
QUESTIONS_ROUTE = "/v1/tasks/suggested-questions"
JSON_LIMIT = 32 * 1024 * 1024  # a conversation may hold inline images, as a chat body does


async def conversation_title(
    services: Services, exchange: Exchange, identity: ApiKeyIdentity, metrics: Metrics
) -> None:
    body = await exchange.json(limit=JSON_LIMIT)
    invocation = await conversation_tasks.generate_title(
        services.invoker,
        workspace_id=identity.workspace_id,
        messages=body.get("messages", ()),
        model=_model(body),
        api_key_id=identity.api_key_id,
        request_id=exchange.request_id,
    )
    title = invocation.result
    answer = {"object": "conversation.title", "title": title.title}
    await _answer(exchange, invocation, answer, title.usage, metrics, TITLE_ROUTE)


async def suggested_questions(
    services: Services, exchange: Exchange, identity: ApiKeyIdentity, metrics: Metrics
) -> None:
    body = await exchange.json(limit=JSON_LIMIT)
    invocation = await conversation_tasks.suggest_questions(
        services.invoker,
        workspace_id=identity.workspace_id,
        messages=body.get("messages", ()),
        model=_model(body),
        api_key_id=identity.api_key_id,
        request_id=exchange.request_id,
    )
    suggested = invocation.result
    answer = {"object": "conversation.suggested_questions", "questions": list(suggested.questions)}
    await _answer(exchange, invocation, answer, suggested.usage, metrics, QUESTIONS_ROUTE)


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if model is None:
        return "default"
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("model must be 'provider/model', a model name, or 'default'", field="model")
    return model


async def _answer(
    exchange: Exchange,
    invocation: Invocation[Any],
    answer: dict[str, Any],
    usage: Usage,
    metrics: Metrics,
    route: str,
) -> None:
    answer["model"] = f"{invocation.provider}/{invocation.model}"
    answer["usage"] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    headers = invocation_headers(invocation, exchange, usage.latency_s)
    await exchange.respond(200, orjson.dumps(answer), headers=headers)
    metrics.usage(invocation.provider, invocation.model, usage, invocation.provider_type)
    metrics.observe(route, 200, time.perf_counter() - exchange.started)
