from __future__ import annotations

from typing import Literal

from modelyard.types.usage import Usage
from modelyard.types.value import Value


class EmbeddingRequest(Value, frozen=True):
    texts: tuple[str, ...]
    dimensions: int | None = None
    input_type: Literal["query", "document"] | None = None  # retrieval models embed queries and passages apart


class EmbeddingResult(Value, frozen=True):
    model: str
    vectors: tuple[list[float], ...]  # one per input text, in input order
    usage: Usage
