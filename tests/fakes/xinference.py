"""An Xinference server on 127.0.0.1: FakeOpenAI's routes, with `GET /v1/models/{model_uid}` answering the
description of a launched model (xinference's describe_model: model_type, model_ability, context_length ...)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes.openai import FakeOpenAI, Recorded


def llm_description(*abilities: str, context_length: int | None = 32768, **more: Any) -> dict[str, Any]:
    """An LLM's description as Xinference's LLMDescription.to_dict gives it (model/llm/core.py)."""
    description = {
        "model_type": "LLM",
        "address": "127.0.0.1:38121",
        "accelerators": ["0"],
        "model_name": "qwen3",
        "model_lang": ["en", "zh"],
        "model_ability": list(abilities or ("chat",)),
        "model_description": "Qwen3",
        "model_format": "pytorch",
        "model_size_in_billions": 8,
        "model_family": "qwen3",
        "quantization": "none",
        "model_hub": "huggingface",
        "revision": None,
        "replica": 1,
        **more,
    }
    if context_length is not None:
        description["context_length"] = context_length
    return description


class FakeXinference(FakeOpenAI):
    def __init__(self) -> None:
        super().__init__()
        self.descriptions: dict[str, dict[str, Any]] = {}  # model uid -> description; others get a typeless one

    async def _default_model(self, recorded: Recorded) -> web.StreamResponse:
        uid = recorded.path.rsplit("/", 1)[-1]
        if uid in self.descriptions:
            return web.json_response(self.descriptions[uid])
        # Unscripted: a model of no stated type, so a catalog round trip may add it as any type.
        return web.json_response({"model_name": uid, "model_ability": ["chat"], "context_length": 8192})
