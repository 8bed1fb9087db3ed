"""MiniMax's native API on 127.0.0.1: `/v1/text/chatcompletion_v2` and `/v1/embeddings?GroupId=`.

Answers as MiniMax does (api-reference text-post, 2026): OpenAI's chat shape plus `base_resp` and the
`*_sensitive` flags; streams whose chunks may carry `"role": ""`, ending with the whole message repeated as a
`chat.completion` object that holds the usage, then `[DONE]`; errors as HTTP 200 with a nonzero
`base_resp.status_code`. A wrong key gets 1004, a missing GroupId on embeddings 2013, as the vendor answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.openai import Recorded, sse, tool_call

Reply = Callable[[web.Request, Recorded], Awaitable[web.StreamResponse]]
OK = {"status_code": 0, "status_msg": ""}
FLAGS = {"input_sensitive": False, "output_sensitive": False, "input_sensitive_type": 0, "output_sensitive_type": 0}


def completion(
    content: str = "Hello!",
    *,
    tool_calls: Sequence[dict[str, Any]] = (),
    reasoning: str | None = None,
    finish_reason: str = "stop",
    usage: tuple[int, int] = (9, 3),
    model: str = "MiniMax-M2.7",
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "name": "MiniMax AI", "audio_content": ""}
    if tool_calls:
        message["tool_calls"] = list(tool_calls)
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    return {
        "id": "04ecb5d9b1921ae0fb0e8da9017a5474",
        "choices": [{"finish_reason": finish_reason, "index": 0, "message": message}],
        "created": 1_764_000_000,
        "model": model,
        "object": "chat.completion",
        "usage": {"total_tokens": sum(usage), "prompt_tokens": usage[0], "completion_tokens": usage[1]},
        **FLAGS,
        "base_resp": OK,
    }


def chunk(delta: dict[str, Any], finish_reason: str | None = None, model: str = "MiniMax-M2.7") -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": delta}
    if finish_reason:
        choice["finish_reason"] = finish_reason
    return {
        "id": "02ff7eb7fe6fb505b9d5cb6945a1a98b",
        "choices": [choice],
        "created": 1_764_000_000,
        "model": model,
        "object": "chat.completion.chunk",
        **FLAGS,
    }


def stream_events(
    *deltas: dict[str, Any], final: dict[str, Any], finish_reason: str = "stop", model: str = "MiniMax-M2.7"
) -> list[dict[str, Any]]:
    """The deltas, the last one carrying the finish reason, then `final` (a completion) as MiniMax repeats it."""
    events = [chunk(d, model=model) for d in deltas[:-1]]
    return [*events, chunk(deltas[-1], finish_reason, model=model), final]


def failure(code: int, message: str) -> dict[str, Any]:
    return {"id": "", "choices": None, "base_resp": {"status_code": code, "status_msg": message}}


class FakeMiniMax:
    def __init__(self, api_keys: set[str] | None = None, group_id: str = "1800000000000000001") -> None:
        self.api_keys = api_keys  # None: any key
        self.group_id = group_id
        self.requests: list[Recorded] = []
        self._replies: list[Reply] = []
        self.app = web.Application()
        self.app.router.add_post("/v1/text/chatcompletion_v2", self._handle(self._default_chat))
        self.app.router.add_post("/v1/embeddings", self._handle(self._default_embeddings))
        self.url = ""

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    # --- scripting ----------------------------------------------------------------------------------------------

    def reply_json(self, body: Any, *, status: int = 200) -> None:
        async def reply(request: web.Request, recorded: Recorded) -> web.StreamResponse:
            return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")

        self._replies.append(reply)

    def fail(self, code: int, message: str) -> None:
        """An error as MiniMax sends most of them: HTTP 200 and a nonzero base_resp.status_code."""
        self.reply_json(failure(code, message))

    def stream(self, *events: dict[str, Any]) -> None:
        async def reply(request: web.Request, recorded: Recorded) -> web.StreamResponse:
            return web.Response(body=sse(*events), content_type="text/event-stream")

        self._replies.append(reply)

    # --- serving ------------------------------------------------------------------------------------------------

    def _handle(self, default: Reply) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            recorded = await Recorded.of(request)
            self.requests.append(recorded)
            key = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if self.api_keys is not None and key not in self.api_keys:
                return web.json_response(failure(1004, "login fail: Please carry the API secret key"))
            reply = self._replies.pop(0) if self._replies else default
            return await reply(request, recorded)

        return handle

    async def _default_chat(self, request: web.Request, recorded: Recorded) -> web.StreamResponse:
        """Hello!, or a call of the first tool offered; streamed when asked, with MiniMax's closing repeat."""
        body = recorded.json or {}
        model = body.get("model", "MiniMax-M2.7")
        tools = body.get("tools") or []
        call = tool_call("call_function_1", tools[0]["function"]["name"], '{"q": "x"}') if tools else None
        if not body.get("stream"):
            if call is not None:
                return web.json_response(completion("", tool_calls=[call], finish_reason="tool_calls", model=model))
            return web.json_response(completion(model=model))
        if call is not None:
            final = completion("", tool_calls=[call], finish_reason="tool_calls", model=model)
            events = stream_events(
                {"role": "assistant", "tool_calls": [{"index": 0, **call}]},
                final=final,
                finish_reason="tool_calls",
                model=model,
            )
        else:
            deltas = ({"role": "assistant", "content": "Hel"}, {"role": "", "content": "lo!"})
            events = stream_events(*deltas, final=completion(model=model), model=model)
        return web.Response(body=sse(*events), content_type="text/event-stream")

    async def _default_embeddings(self, request: web.Request, recorded: Recorded) -> web.StreamResponse:
        if not request.query.get("GroupId"):
            return web.json_response(failure(2013, "invalid params, GroupId is required"))
        body = recorded.json or {}
        if body.get("type") not in ("db", "query"):
            return web.json_response(failure(2013, "invalid params, type must be db or query"))
        texts = body.get("texts") or []
        vectors = [[round(0.1 * (i + 1) + 0.01 * d, 4) for d in range(4)] for i, _ in enumerate(texts)]
        tokens = sum(len(str(text).split()) for text in texts)
        return web.json_response(
            {"vectors": vectors, "total_tokens": tokens, "base_resp": {"status_code": 0, "status_msg": "success"}}
        )
