"""An Anthropic-wire upstream on 127.0.0.1: `POST /v1/messages` (plain and SSE with named events), `GET /v1/models`.

With nothing queued it answers like the API would: "Hello!", or a call of the first tool offered, with a signed
thinking block first when the request asked for thinking; streamed when asked. Queue replies to script a test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.openai import Recorded

Reply = Callable[[web.Request, Recorded], Awaitable[web.StreamResponse]]
SIGNATURE = "EqQBCkYIBxgCKkDfakeSignatureOfTheThinkingBlock=="


def usage(input_tokens: int = 9, output_tokens: int = 3, **extra: Any) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        **extra,
    }


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def tool_use(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": call_id, "name": name, "input": arguments}


def thinking(value: str, signature: str = SIGNATURE) -> dict[str, Any]:
    return {"type": "thinking", "thinking": value, "signature": signature}


def message(
    content: Sequence[dict[str, Any]] = (),
    *,
    stop_reason: str = "end_turn",
    model: str = "claude-haiku-5-5",
    tokens: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": "msg_fake01",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": list(content) or [text("Hello!")],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": tokens or usage(),
    }


def error_body(kind: str, text_: str, *, error_code: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": kind, "message": text_}
    if error_code is not None:
        error["details"] = {"error_code": error_code}
    return {"type": "error", "error": error, "request_id": "req_fake01"}


# API version 2026-10-21 refuses the sampling parameters (migration guide); Sonnet 5.5 refuses forced tool use (its
# model page, 2026-11). The wording of both messages is unverified.
_SAMPLING_REMOVED_IN = "2026-10-21"
_NO_FORCED_TOOLS = frozenset({"claude-sonnet-5-5"})


def refusal_of(recorded: Recorded) -> str | None:
    """The message of the 400 Anthropic answers this request with, or None when it would answer it."""
    body = recorded.json if isinstance(recorded.json, dict) else {}
    version = recorded.headers.get("anthropic-version", _SAMPLING_REMOVED_IN)
    if version >= _SAMPLING_REMOVED_IN:
        for name in ("temperature", "top_p", "top_k"):
            if name in body:
                return f"{name}: this parameter is not supported from API version {_SAMPLING_REMOVED_IN}"
    choice = (body.get("tool_choice") or {}).get("type")
    if body.get("model") in _NO_FORCED_TOOLS and choice in ("any", "tool"):
        return f"tool_choice type {choice!r} is not supported by {body['model']}"
    return _options_refusal(body, recorded.headers.get("anthropic-beta", ""))


_TASK_BUDGETS_BETA = "task-budgets-2026-03-13"
_MAX_BREAKPOINTS = 4  # prompt-caching docs: at most four cache_control blocks per request (2026-12)


def _options_refusal(body: dict[str, Any], betas: str) -> str | None:
    """What the thinking, task-budget and prompt-caching pages say answers 400 (their wording unverified)."""
    budget = (body.get("output_config") or {}).get("task_budget")
    if budget is not None:
        if _TASK_BUDGETS_BETA not in betas.split(","):
            return f"output_config.task_budget: requires the {_TASK_BUDGETS_BETA} beta header"
        if budget.get("type") != "tokens" or budget.get("total", 0) < 20000:
            return "output_config.task_budget.total: must be at least 20000"
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled":
        tokens = thinking.get("budget_tokens")
        if not isinstance(tokens, int) or tokens < 1024 or tokens >= body.get("max_tokens", 0):
            return "thinking.budget_tokens: must be at least 1024 and less than max_tokens"
    if thinking.get("display") not in (None, "summarized", "omitted"):
        return "thinking.display: must be summarized or omitted"
    controls = list(_cache_controls(body))
    if any(c.get("type") != "ephemeral" or c.get("ttl", "5m") not in ("5m", "1h") for c in controls):
        return "cache_control: type must be ephemeral and ttl 5m or 1h"
    if len(controls) > _MAX_BREAKPOINTS:
        return f"A maximum of {_MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {len(controls)}."
    return None


def _cache_controls(value: Any) -> Any:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "cache_control" and isinstance(item, dict):
                yield item
            elif key != "input_schema":  # a tool's schema may name a property cache_control
                yield from _cache_controls(item)
    elif isinstance(value, list):
        for item in value:
            yield from _cache_controls(item)


def sse(*events: dict[str, Any]) -> bytes:
    """Named events, as the API sends them: each `event:` line repeats the payload's type."""
    return b"".join(f"event: {e['type']}\ndata: ".encode() + orjson.dumps(e) + b"\n\n" for e in events)


def stream_events(
    content: Sequence[dict[str, Any]],
    *,
    stop_reason: str = "end_turn",
    model: str = "claude-haiku-5-5",
    input_tokens: int = 9,
    output_tokens: int = 3,
    piece: int = 4,
) -> list[dict[str, Any]]:
    """The event sequence that streams `content`: text and thinking in deltas of `piece` characters, tool input
    as input_json_delta fragments, signatures as signature_delta, with a ping between the blocks."""
    start = message((), model=model, tokens=usage(input_tokens, 1))
    start["content"], start["stop_reason"] = [], None
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(content):
        events.extend(_block_events(index, block, piece))
        events.append({"type": "ping"})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        }
    )
    events.append({"type": "message_stop"})
    return events


def _block_events(index: int, block: dict[str, Any], piece: int) -> list[dict[str, Any]]:
    kind = block["type"]
    if kind == "text":
        opened, field, delta, whole = {"type": "text", "text": ""}, "text", "text_delta", block["text"]
    elif kind == "thinking":
        opened, field, delta, whole = (
            {"type": "thinking", "thinking": "", "signature": ""},
            "thinking",
            "thinking_delta",
            block["thinking"],
        )
    elif kind == "tool_use":
        opened = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        field, delta, whole = "partial_json", "input_json_delta", orjson.dumps(block["input"]).decode()
        if whole == "{}":
            whole = ""  # a call without parameters streams no input at all
    else:
        opened, field, delta, whole = block, "", "", ""
    events: list[dict[str, Any]] = [{"type": "content_block_start", "index": index, "content_block": opened}]
    for at in range(0, len(whole), piece):
        events.append(
            {"type": "content_block_delta", "index": index, "delta": {"type": delta, field: whole[at : at + piece]}}
        )
    if kind == "thinking":
        signature = {"type": "signature_delta", "signature": block["signature"]}
        events.append({"type": "content_block_delta", "index": index, "delta": signature})
    events.append({"type": "content_block_stop", "index": index})
    return events


class FakeAnthropic:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._replies: list[Reply] = []
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.router.add_post("/v1/messages", self._handle)
        self.app.router.add_get("/v1/models", self._models)
        self.url = ""  # set by the fixture once the server listens
        self.disconnects = 0

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    # --- scripting ----------------------------------------------------------------------------------------------

    def reply_json(self, body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> None:
        async def reply(request: web.Request, recorded: Recorded) -> web.StreamResponse:
            return web.Response(
                body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
            )

        self._replies.append(reply)

    def reply_message(self, content: Sequence[dict[str, Any]] = (), **kwargs: Any) -> None:
        self.reply_json(message(content, **kwargs))

    def fail(
        self,
        status: int,
        kind: str,
        text_: str = "boom",
        *,
        error_code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.reply_json(error_body(kind, text_, error_code=error_code), status=status, headers=headers)

    def stream(self, body: bytes, *, piece_size: int | None = None, drop_after: int | None = None) -> None:
        """Stream `body` in pieces of `piece_size` bytes; `drop_after` closes the connection after that many."""

        async def reply(request: web.Request, recorded: Recorded) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
            await response.prepare(request)
            size = piece_size or len(body) or 1
            try:
                for number, at in enumerate(range(0, len(body), size)):
                    if drop_after is not None and number == drop_after:
                        assert request.transport is not None
                        request.transport.close()
                        return response
                    await response.write(body[at : at + size])
                await response.write_eof()
            except (ConnectionError, asyncio.CancelledError):
                self.disconnects += 1
                raise
            return response

        self._replies.append(reply)

    def stream_message(
        self, content: Sequence[dict[str, Any]], *, piece_size: int | None = None, **kwargs: Any
    ) -> None:
        self.stream(sse(*stream_events(content, **kwargs)), piece_size=piece_size)

    # --- serving ------------------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        recorded = await Recorded.of(request)
        self.requests.append(recorded)
        refusal = refusal_of(recorded)
        if refusal is not None:  # what Anthropic refuses, it refuses here too, before any queued reply
            return web.json_response(error_body("invalid_request_error", refusal), status=400)
        if self._replies:
            return await self._replies.pop(0)(request, recorded)
        return await self._default(recorded)

    async def _default(self, recorded: Recorded) -> web.StreamResponse:
        body = recorded.json or {}
        model = body.get("model", "claude-haiku-5-5")
        tools = body.get("tools") or []
        content: list[dict[str, Any]] = []
        if (body.get("thinking") or {}).get("type") in ("enabled", "adaptive") or "effort" in (
            body.get("output_config") or {}
        ):
            content.append(thinking("The user greets me."))
        if tools:
            content.append(tool_use("toolu_01", tools[0]["name"], {"q": "x"}))
        else:
            content.append(text("Hello!"))
        stop = "tool_use" if tools else "end_turn"
        if body.get("stream"):
            events = stream_events(content, stop_reason=stop, model=model)
            return web.Response(body=sse(*events), content_type="text/event-stream")
        return web.json_response(message(content, stop_reason=stop, model=model))

    async def _models(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(await Recorded.of(request))
        data = [
            {"type": "model", "id": name, "display_name": name, "created_at": "2026-10-01T00:00:00Z"}
            for name in ("claude-haiku-5-5", "claude-sonnet-5-5")
        ]
        return web.json_response(
            {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
        )
