from __future__ import annotations

from modelyard.types.usage import Usage
from modelyard.types.value import Value


class RerankRequest(Value, frozen=True):
    query: str
    documents: tuple[str, ...]
    top_n: int | None = None
    score_threshold: float | None = None  # applied by the runtime after the provider answers


class RerankHit(Value, frozen=True):
    index: int  # position of the document in the request
    score: float
    document: str


class RerankResult(Value, frozen=True):
    model: str
    hits: tuple[RerankHit, ...]  # best first
    usage: Usage
