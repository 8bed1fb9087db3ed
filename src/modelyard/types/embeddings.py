from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from modelyard.types.usage import Usage


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    texts: tuple[str, ...]
    dimensions: int | None = None
    input_type: Literal["query", "document"] | None = None  # retrieval models embed queries and passages apart


@dataclass(frozen=True, slots=True)
class EmbeddingResult:
    model: str
    vectors: tuple[list[float], ...]  # one per input text, in input order
    usage: Usage
