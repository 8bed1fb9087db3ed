"""A Hugging Face upstream on 127.0.0.1: TGI (`/generate`, `/generate_stream`, the compat root, the OpenAI-style
`/v1/chat/completions`), TEI (`/embed`, `/rerank`, the root of an embedding endpoint) and the router's
hf-inference feature-extraction pipeline.

It reuses FakeOpenAI's scripting and its `/v1` routes (TGI's Messages API is OpenAI's shape). The
`huggingface_hub` SDK parses every default answer (tests/protocols/test_huggingface.py).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from tests.fakes.openai import FakeOpenAI, Recorded


def token(index: int, text: str, *, special: bool = False) -> dict[str, Any]:
    return {"id": 1000 + index, "text": text, "logprob": -0.25, "special": special}


def generated(text: str = "Hello!", *, finish_reason: str = "eos_token", tokens: int = 3) -> dict[str, Any]:
    details = {
        "finish_reason": finish_reason,
        "generated_tokens": tokens,
        "seed": None,
        "prefill": [],
        "tokens": [token(i, piece) for i, piece in enumerate(text.split(" ")[:tokens])],
    }
    return {"generated_text": text, "details": details}


def stream_events(
    pieces: list[str], *, finish_reason: str = "eos_token", input_length: int = 7, eos: str | None = "</s>"
) -> list[dict[str, Any]]:
    """`/generate_stream` events: a token each, the last with the whole text and the details."""
    events: list[dict[str, Any]] = [
        {"index": i + 1, "token": token(i, piece), "generated_text": None, "details": None}
        for i, piece in enumerate(pieces)
    ]
    last = token(len(pieces), eos, special=True) if eos is not None else events.pop()["token"]
    count = len(pieces) + (1 if eos is not None else 0)
    details = {"finish_reason": finish_reason, "generated_tokens": count, "input_length": input_length, "seed": None}
    events.append({"index": count, "token": last, "generated_text": "".join(pieces), "details": details})
    return events


def sse_data(*payloads: Any) -> bytes:
    """SSE `data:` events with no terminator, as TGI and Triton stream."""
    return b"".join(b"data:" + orjson.dumps(p) + b"\n\n" for p in payloads)


class FakeHuggingFace(FakeOpenAI):
    def __init__(self) -> None:
        super().__init__()
        router = self.app.router
        router.add_post("/generate", self._handle("generate"))
        router.add_post("/generate_stream", self._handle("generate_stream"))
        router.add_post("/", self._handle("root"))
        router.add_post("/embed", self._handle("embed"))
        router.add_post("/rerank", self._handle("tei_rerank"))
        router.add_post("/hf-inference/models/{model:.+}/pipeline/feature-extraction", self._handle("embed"))

    # --- scripting ----------------------------------------------------------------------------------------------

    def stream_tgi(self, *events: Any, piece_size: int | None = None, **options: Any) -> None:
        self.stream(sse_data(*events), piece_size=piece_size, **options)

    def fail_hf(self, status: int, message: str, error_type: str) -> None:
        self.reply_json({"error": message, "error_type": error_type}, status=status)

    # --- defaults -----------------------------------------------------------------------------------------------

    async def _default_generate(self, recorded: Recorded) -> web.StreamResponse:
        return web.json_response(generated())

    async def _default_generate_stream(self, recorded: Recorded) -> web.StreamResponse:
        body = sse_data(*stream_events(["Hel", "lo", "!"]))
        return web.Response(body=body, content_type="text/event-stream")

    async def _default_root(self, recorded: Recorded) -> web.StreamResponse:
        body = recorded.json or {}
        if "parameters" in body or "stream" in body:  # TGI's compat route
            if body.get("stream"):
                return await self._default_generate_stream(recorded)
            return web.json_response([generated()])
        return await self._default_embed(recorded)  # an embedding endpoint (TEI serves /embed at its root)

    async def _default_embed(self, recorded: Recorded) -> web.StreamResponse:
        body = recorded.json or {}
        inputs = body.get("inputs", [])
        inputs = [inputs] if isinstance(inputs, str) else inputs
        size = int(body.get("dimensions") or 4)
        return web.json_response(
            [[round(0.1 * (i + 1) + 0.01 * d, 4) for d in range(size)] for i in range(len(inputs))]
        )

    async def _default_tei_rerank(self, recorded: Recorded) -> web.StreamResponse:
        texts = (recorded.json or {}).get("texts", [])
        ranked = sorted(
            ({"index": i, "score": round(0.9 / (1 + len(texts) - i), 4)} for i in range(len(texts))),
            key=lambda item: item["score"],
            reverse=True,
        )
        return web.json_response(ranked)
