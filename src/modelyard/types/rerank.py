from __future__ import annotations

from dataclasses import dataclass

from modelyard.types.usage import Usage


@dataclass(frozen=True, slots=True)
class RerankRequest:
    query: str
    documents: tuple[str, ...]
    top_n: int | None = None
    score_threshold: float | None = None  # applied by the runtime after the provider answers


@dataclass(frozen=True, slots=True)
class RerankHit:
    index: int  # position of the document in the request
    score: float
    document: str


@dataclass(frozen=True, slots=True)
class RerankResult:
    model: str
    hits: tuple[RerankHit, ...]  # best first
    usage: Usage
