"""An Ollama upstream on 127.0.0.1: the native `/api/chat` and `/api/generate` (JSON or NDJSON stream), `/api/embed`,
`/api/tags`.

It reuses FakeOpenAI's scripting (queue replies, stream in pieces, stall, record requests), and like a real
Ollama server it also answers the OpenAI-compatible `/v1` routes. The official `ollama` SDK parses every
default answer (tests/protocols/test_ollama.py).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from tests.fakes.openai import FakeOpenAI, Recorded

CREATED_AT = "2026-11-02T10:00:00.000000Z"


def ndjson(*objects: Any) -> bytes:
    return b"".join(orjson.dumps(o) + b"\n" for o in objects)


def chat_line(content: str = "", *, thinking: str | None = None, tool_calls: list[Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if thinking is not None:
        message["thinking"] = thinking
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"model": "llama3.2", "created_at": CREATED_AT, "message": message, "done": False}


def done_line(
    content: str = "", *, done_reason: str = "stop", usage: tuple[int, int] | None = (9, 3), **message: Any
) -> dict[str, Any]:
    line = chat_line(content, **message)
    line.update(done=True, done_reason=done_reason, total_duration=512_000_000, load_duration=20_000_000)
    if usage is not None:
        line.update(
            prompt_eval_count=usage[0], prompt_eval_duration=80_000_000, eval_count=usage[1], eval_duration=300_000_000
        )
    return line


def generate_line(
    response: str = "", *, done: bool = False, usage: tuple[int, int] | None = (5, 2), done_reason: str = "stop"
) -> dict[str, Any]:
    """One /api/generate line (the SDK's GenerateResponse): a piece of text, or with `done` the last one and counts."""
    line: dict[str, Any] = {"model": "llama3.2", "created_at": CREATED_AT, "response": response, "done": done}
    if done:
        line.update(done_reason=done_reason, context=[1, 2, 3], total_duration=400_000_000)
        if usage is not None:
            line.update(prompt_eval_count=usage[0], eval_count=usage[1])
    return line


def tool_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"function": {"name": name, "arguments": arguments}}


class FakeOllama(FakeOpenAI):
    def __init__(self) -> None:
        super().__init__()
        self.app.router.add_post("/api/chat", self._handle("ollama_chat"))
        self.app.router.add_post("/api/generate", self._handle("ollama_generate"))
        self.app.router.add_post("/api/embed", self._handle("ollama_embed"))
        self.app.router.add_get("/api/tags", self._handle("ollama_tags"))

    # --- scripting ----------------------------------------------------------------------------------------------

    def reply_ollama(self, line: dict[str, Any]) -> None:
        """A non-streamed chat answer: one `done` line."""
        self.reply_json(line)

    def stream_lines(self, *lines: dict[str, Any], piece_size: int | None = None, **options: Any) -> None:
        self.stream(ndjson(*lines), piece_size=piece_size, content_type="application/x-ndjson", **options)

    def fail_ollama(self, status: int, message: str) -> None:
        self.reply_json({"error": message}, status=status)

    # --- defaults -----------------------------------------------------------------------------------------------

    async def _default_ollama_chat(self, recorded: Recorded) -> web.StreamResponse:
        """Hello!, or a call of the first tool offered; streamed unless `"stream": false`, as Ollama does."""
        body = recorded.json or {}
        tools = body.get("tools") or []
        calls = [tool_call(tools[0]["function"]["name"], {"q": "x"})] if tools else None
        if not body.get("stream", True):
            return web.json_response(done_line("" if calls else "Hello!", tool_calls=calls))
        lines = [done_line(tool_calls=calls)] if calls else [chat_line("Hel"), chat_line("lo!"), done_line()]
        return web.Response(body=ndjson(*lines), content_type="application/x-ndjson")

    async def _default_ollama_generate(self, recorded: Recorded) -> web.StreamResponse:
        """Hello! for a prompt; streamed unless `"stream": false`."""
        if not (recorded.json or {}).get("stream", True):
            return web.json_response(generate_line("Hello!", done=True))
        lines = [generate_line("Hel"), generate_line("lo!"), generate_line(done=True)]
        return web.Response(body=ndjson(*lines), content_type="application/x-ndjson")

    async def _default_ollama_embed(self, recorded: Recorded) -> web.StreamResponse:
        body = recorded.json or {}
        inputs = body.get("input", [])
        inputs = [inputs] if isinstance(inputs, str) else inputs
        size = int(body.get("dimensions") or 4)
        vectors = [[round(0.1 * (i + 1) + 0.01 * d, 4) for d in range(size)] for i in range(len(inputs))]
        return web.json_response(
            {
                "model": body.get("model"),
                "embeddings": vectors,
                "total_duration": 14_000_000,
                "load_duration": 1_000_000,
                "prompt_eval_count": sum(len(str(t).split()) for t in inputs),
            }
        )

    async def _default_ollama_tags(self, recorded: Recorded) -> web.StreamResponse:
        def model(name: str, family: str, size: str) -> dict[str, Any]:
            details = {
                "parent_model": "",
                "format": "gguf",
                "family": family,
                "families": [family],
                "parameter_size": size,
                "quantization_level": "Q4_K_M",
            }
            digest = "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72"
            return {
                "name": name,
                "model": name,
                "modified_at": CREATED_AT,
                "size": 2019393189,
                "digest": digest,
                "details": details,
            }

        return web.json_response(
            {
                "models": [
                    model("llama3.2:latest", "llama", "3.2B"),
                    model("nomic-embed-text:latest", "nomic-bert", "137M"),
                ]
            }
        )
