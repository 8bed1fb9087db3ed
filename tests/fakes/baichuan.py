"""A Baichuan upstream on 127.0.0.1: OpenAI's routes under /v1, with Baichuan's answers and error bodies.

Streams carry usage on their last chunk without being asked (Baichuan has no stream_options), and every
delta has a `content` string, empty or not, as Baichuan's do. Only a known bearer key is accepted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from tests.fakes.openai import FakeOpenAI, Recorded, chat_chunk, sse, tool_call


def baichuan_error(message: str, *, type: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code or type, "message": message, "type": type}}


class FakeBaichuan(FakeOpenAI):
    def __init__(self, api_keys: Iterable[str] = ()) -> None:
        super().__init__()
        self.api_keys = set(api_keys)

    def fail_with(self, status: int, message: str, *, type: str, code: str | None = None) -> None:
        self.reply_json(baichuan_error(message, type=type, code=code), status=status)

    def _handle(self, kind: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        served = super()._handle(kind)

        async def handle(request: web.Request) -> web.StreamResponse:
            scheme, _, key = request.headers.get("Authorization", "").partition(" ")
            if scheme != "Bearer" or key not in self.api_keys:
                self.requests.append(await Recorded.of(request))
                kind = "invalid_api_key" if key else "api_key_empty"
                return web.json_response(baichuan_error("Invalid API key", type=kind), status=401)
            return await served(request)

        return handle

    async def _default_chat(self, recorded: Recorded) -> web.StreamResponse:
        body = recorded.json or {}
        if not body.get("stream"):
            return await super()._default_chat(recorded)
        model = body.get("model", "Baichuan4-Turbo")
        functions = [t for t in body.get("tools") or [] if t.get("type") == "function"]
        usage = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
        if functions:
            call = tool_call("call_1", functions[0]["function"]["name"], '{"q": "x"}')
            delta = {"role": "assistant", "content": "", "tool_calls": [{"index": 0, **call}]}
            events = [
                chat_chunk(delta, model=model),
                chat_chunk({"content": ""}, "tool_calls", model=model, usage=usage),
            ]
        else:
            events = [
                chat_chunk({"role": "assistant", "content": "Hel"}, model=model),
                chat_chunk({"role": "assistant", "content": "lo!"}, "stop", model=model, usage=usage),
            ]
        return web.Response(body=sse(*events), content_type="text/event-stream")
