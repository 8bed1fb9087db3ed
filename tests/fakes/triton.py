"""A Triton Inference Server on 127.0.0.1, speaking the generate extension as documented in
`docs/protocol/extension_generate.md`: `/v2/models/{model}[/versions/{v}]/generate` (one JSON answer) and
`/generate_stream` (SSE `data:` events, no terminator). Errors are `{"error": "..."}`. FakeOpenAI's scripting is
reused (Triton's optional OpenAI frontend would also serve those routes).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes.huggingface import sse_data
from tests.fakes.openai import FakeOpenAI, Recorded


def output(text: str, model: str = "ensemble") -> dict[str, Any]:
    return {"model_name": model, "model_version": "1", "text_output": text}


class FakeTriton(FakeOpenAI):
    def __init__(self) -> None:
        super().__init__()
        for prefix in ("/v2/models/{model}", "/v2/models/{model}/versions/{version}"):
            self.app.router.add_post(prefix + "/generate", self._handle("generate"))
            self.app.router.add_post(prefix + "/generate_stream", self._handle("generate_stream"))

    def stream_outputs(self, *texts: str, piece_size: int | None = None, **options: Any) -> None:
        self.stream(sse_data(*(output(t) for t in texts)), piece_size=piece_size, **options)

    def fail_triton(self, status: int, message: str) -> None:
        self.reply_json({"error": message}, status=status)

    async def _default_generate(self, recorded: Recorded) -> web.StreamResponse:
        return web.json_response(output("Hello!", recorded.path.split("/")[3]))

    async def _default_generate_stream(self, recorded: Recorded) -> web.StreamResponse:
        body = sse_data(*(output(t, recorded.path.split("/")[3]) for t in ("Hel", "lo", "!")))
        return web.Response(body=body, content_type="text/event-stream", charset="utf-8")
