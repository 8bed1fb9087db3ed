"""Prometheus metrics for the gateway: requests, errors by class, latency, time to first token, tokens, quota.

`modelyard_requests_total{route, status}` counts every answer, errors too, by its exact status code, so that an
error ratio is `sum(rate(modelyard_requests_total{status=~"5.."}[5m])) / sum(rate(modelyard_requests_total[5m]))`.
A caller who leaves before the answer ends counts as 499 (nginx's "client closed request"); a stream that failed
after its 200 went out counts as 200, and its error in `modelyard_errors_total`.

`modelyard_response_cache_total{route, result}` counts the calls the response cache was on for, `hit` or `miss`.

Every label takes a bounded set of values, whatever the tenants do: routes are the gateway's own (a path matching
none is `unmatched`), statuses are those the error contract answers, error classes are modelyard's, providers come
from the catalog, and a model is named only when the catalog lists it for its provider. A workspace's custom model
names (anything it typed) all count under `model="custom"`.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from modelyard.catalog.loader import Catalog, default_catalog
from modelyard.types import Usage

CUSTOM_MODEL_LABEL = "custom"
UNMATCHED_ROUTE = "unmatched"  # the route label of a path no route serves: a 404, whatever the path was

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    """One set of metrics per registry; the app exposes `registry` at /metrics."""

    def __init__(self, registry: CollectorRegistry | None = None, *, catalog: Catalog | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.catalog = catalog or default_catalog()
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}
        self._catalog_models: dict[str, frozenset[str]] = {}  # provider -> its catalog model ids, filled on use
        self.requests = Counter(
            "modelyard_requests", "Gateway requests answered, by status", ["route", "status"], registry=self.registry
        )
        self.errors = Counter(
            "modelyard_errors", "Gateway errors by class", ["route", "error_class"], registry=self.registry
        )
        self.latency = Histogram(
            "modelyard_request_latency_seconds",
            "Time to answer a gateway request (to the last byte)",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.first_token = Histogram(
            "modelyard_time_to_first_token_seconds",
            "Time from request to the first streamed token",
            ["provider"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "modelyard_tokens", "Tokens processed", ["provider", "model", "kind"], registry=self.registry
        )
        self.quota_spent = Counter(
            "modelyard_hosted_quota_calls",
            "Calls served on hosted (system) quota",
            ["provider"],
            registry=self.registry,
        )
        self.response_cache = Counter(
            "modelyard_response_cache",
            "Calls with the response cache on, answered from it (hit) or not (miss)",
            ["route", "result"],
            registry=self.registry,
        )

    def observe(self, route: str, status: int, seconds: float) -> None:
        children = self._children.get((route, status))
        if children is None:  # labels() takes a lock and builds a key each call: look each pair up once
            children = self._children[(route, status)] = (
                self.requests.labels(route, str(status)),
                self.latency.labels(route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def cached(self, route: str, result: str) -> None:
        """A call the response cache was on for: `hit` (answered from it, nothing spent) or `miss`."""
        self.response_cache.labels(route, result).inc()

    def error(self, route: str, error: BaseException) -> None:
        self.errors.labels(route, type(error).__name__).inc()

    def usage(self, provider: str, model: str, usage: Usage | None, provider_type: str) -> None:
        if usage is not None:
            if usage.prompt_tokens or usage.completion_tokens:
                model = self.model_label(provider, model)
            if usage.prompt_tokens:
                self.tokens.labels(provider, model, "prompt").inc(usage.prompt_tokens)
            if usage.completion_tokens:
                self.tokens.labels(provider, model, "completion").inc(usage.completion_tokens)
            if usage.time_to_first_token_s is not None:
                self.first_token.labels(provider).observe(usage.time_to_first_token_s)
        if provider_type == "system":
            self.quota_spent.labels(provider).inc()

    def model_label(self, provider: str, model: str) -> str:
        """The model as a label: its id when the catalog lists it for `provider`, else `custom`."""
        known = self._catalog_models.get(provider)
        if known is None:
            spec = self.catalog.get(provider) if provider in self.catalog else None
            known = frozenset(m.id for m in spec.models) if spec is not None else frozenset()
            if spec is not None:  # keyed by catalog providers only, so this table stays bounded too
                self._catalog_models[provider] = known
        return model if model in known else CUSTOM_MODEL_LABEL
