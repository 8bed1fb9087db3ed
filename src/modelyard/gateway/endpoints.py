"""POST /v1/embeddings, /v1/rerank, /v1/moderations and GET /v1/models."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, cast

import orjson

from modelyard.errors import InvalidRequestError, ModelNotFoundError
from modelyard.gateway.chat import invocation_headers, model_name
from modelyard.gateway.exchange import Exchange
from modelyard.gateway.metrics import Metrics
from modelyard.protocols import fields
from modelyard.protocols.openai import egress
from modelyard.services.resolve import resolve_alias, usable_models
from modelyard.types import EmbeddingRequest, ModelType, ModerationRequest, RerankRequest
from modelyard.types.model_type import MODEL_TYPES

if TYPE_CHECKING:
    from modelyard.services.api_keys import ApiKeyIdentity
    from modelyard.services.context import Services
    from modelyard.services.snapshot import WorkspaceSnapshot

JSON_LIMIT = 16 * 1024 * 1024


async def embeddings(services: Services, exchange: Exchange, identity: ApiKeyIdentity, metrics: Metrics) -> None:
    body = await exchange.json(limit=JSON_LIMIT)
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise InvalidRequestError("encoding_format must be float or base64", field="encoding_format")
    input_type = body.get("input_type")
    if input_type not in (None, "query", "document"):
        raise InvalidRequestError("input_type must be query or document", field="input_type")
    request = EmbeddingRequest(
        fields.texts(body.get("input"), "input"), fields.positive_int(body.get("dimensions"), "dimensions"), input_type
    )
    invocation = await services.invoker.embed(
        workspace_id=identity.workspace_id,
        model=model_name(body),
        request=request,
        api_key_id=identity.api_key_id,
        request_id=exchange.request_id,
    )
    answer = egress.embeddings(invocation.result, model=invocation.model, encoding=encoding)
    await _answer(exchange, invocation, answer, metrics, "/v1/embeddings")


async def rerank(services: Services, exchange: Exchange, identity: ApiKeyIdentity, metrics: Metrics) -> None:
    body = await exchange.json(limit=JSON_LIMIT)
    query = body.get("query")
    if not isinstance(query, str) or not query:
        raise InvalidRequestError("query must be a non-empty string", field="query")
    documents = body.get("documents")
    if isinstance(documents, list) and all(isinstance(d, dict) and isinstance(d.get("text"), str) for d in documents):
        documents = [d["text"] for d in documents]  # Cohere's {"text": ...} objects
    threshold = fields.number(body, "score_threshold")
    request = RerankRequest(
        query, fields.texts(documents, "documents"), fields.positive_int(body.get("top_n"), "top_n"), threshold
    )
    invocation = await services.invoker.rerank(
        workspace_id=identity.workspace_id,
        model=model_name(body),
        request=request,
        api_key_id=identity.api_key_id,
        request_id=exchange.request_id,
    )
    answer = egress.rerank(
        invocation.result,
        response_id=exchange.request_id,
        model=invocation.model,
        return_documents=body.get("return_documents") is not False,
    )
    await _answer(exchange, invocation, answer, metrics, "/v1/rerank")


async def moderations(services: Services, exchange: Exchange, identity: ApiKeyIdentity, metrics: Metrics) -> None:
    body = await exchange.json(limit=JSON_LIMIT)
    raw = body.get("input")
    if isinstance(raw, list) and raw and all(isinstance(p, dict) for p in raw):  # content parts: text ones only
        raw = [p["text"] for p in raw if p.get("type") == "text" and isinstance(p.get("text"), str)]
    request = ModerationRequest(fields.texts(raw, "input"))
    invocation = await services.invoker.moderate(
        workspace_id=identity.workspace_id,
        model=body.get("model") or "default",
        request=request,
        api_key_id=identity.api_key_id,
        request_id=exchange.request_id,
    )
    answer = egress.moderation(invocation.result, response_id=f"modr-{exchange.request_id}", model=invocation.model)
    await _answer(exchange, invocation, answer, metrics, "/v1/moderations")


async def list_models(services: Services, exchange: Exchange, identity: ApiKeyIdentity, metrics: Metrics) -> None:
    """The models this workspace can call now, as `provider/model` ids; deprecated ones too, marked with their
    shutdown date (they answer until then); then its aliases, by name. Built once per configuration version."""
    snapshot = await services.snapshots.get(identity.workspace_id)
    body = snapshot.memo.get("/v1/models")
    if body is None:
        body = snapshot.memo["/v1/models"] = orjson.dumps({"object": "list", "data": _listed(snapshot)})
    await exchange.respond(200, body)
    metrics.observe("/v1/models", 200, time.perf_counter() - exchange.started)


def _listed(snapshot: WorkspaceSnapshot) -> list[dict[str, Any]]:
    data = []
    for model_type in MODEL_TYPES:
        for key in usable_models(snapshot, model_type):
            provider, model, _ = key
            custom = snapshot.custom_models.get(key)
            spec = custom.spec if custom is not None else snapshot.providers[provider].spec.model(model, model_type)
            data.append(
                {
                    "id": f"{provider}/{model}",
                    "object": "model",
                    "created": 0,
                    "owned_by": provider,
                    "model_type": model_type,
                    "deprecated": bool(spec and spec.deprecated),
                    "shutdown_date": spec.shutdown_date.isoformat() if spec and spec.shutdown_date else None,
                }
            )
    for alias in sorted(snapshot.aliases.values(), key=lambda alias: alias.name):
        try:
            resolve_alias(snapshot, alias.name, cast(ModelType, alias.model_type))
        except ModelNotFoundError:
            continue  # none of its models can be called now
        data.append(
            {
                "id": alias.name,
                "object": "model",
                "created": 0,
                "owned_by": "alias",
                "model_type": alias.model_type,
                "deprecated": False,
                "shutdown_date": None,
                "alias_of": [target.name for target in alias.targets],  # in fallback order
            }
        )
    return data


async def _answer(exchange: Exchange, invocation: Any, answer: dict[str, Any], metrics: Metrics, route: str) -> None:
    usage = getattr(invocation.result, "usage", None)
    upstream_s = usage.latency_s if usage is not None else 0.0
    await exchange.respond(200, orjson.dumps(answer), headers=invocation_headers(invocation, exchange, upstream_s))
    metrics.usage(invocation.provider, invocation.model, usage, invocation.provider_type)
    metrics.observe(route, 200, time.perf_counter() - exchange.started)
