from __future__ import annotations

from typing import Literal, get_args

ModelType = Literal["llm", "text-embedding", "rerank", "speech2text", "tts", "moderation"]
MODEL_TYPES: tuple[ModelType, ...] = get_args(ModelType)
