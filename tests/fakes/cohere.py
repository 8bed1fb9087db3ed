"""A Cohere v2 upstream on 127.0.0.1: /v2/chat (JSON or typed SSE events), /v2/embed, /v2/rerank.

Answers are shaped as the `cohere` SDK 7.3.1 reads them (V2ChatResponse, V2ChatStreamResponse events,
EmbedByTypeResponse, V2RerankResponse); errors as Cohere sends them, `{"id", "message"}`. With nothing queued
each route answers a plausible default; queue replies (the FakeOpenAI scripting methods) to script a test.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from tests.fakes.openai import FakeOpenAI, Recorded


def event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, **fields}


def sse_events(*events: dict[str, Any]) -> bytes:
    """Cohere's framing: `event: <type>` and `data: <json>` per event, no [DONE] at the end."""
    return b"".join(
        b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n"
        if "type" in e
        # an event without a type (an error object, say) goes as data only
        else b"data: " + orjson.dumps(e) + b"\n\n"
        for e in events
    )


def usage(prompt: int = 9, completion: int = 3) -> dict[str, Any]:
    counts = {"input_tokens": prompt, "output_tokens": completion}
    return {"billed_units": dict(counts), "tokens": {"input_tokens": prompt + 5, "output_tokens": completion + 1}}


def chat_response(
    text: str | None = "Hello!",
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    tool_plan: str | None = None,
    thinking: str | None = None,
    finish_reason: str = "COMPLETE",
    usage_: dict[str, Any] | None = None,
) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if thinking is not None:
        content.append({"type": "thinking", "thinking": thinking})
    if text is not None:
        content.append({"type": "text", "text": text})
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
        message["tool_plan"] = tool_plan or "I will call the tool."
    return {
        "id": "c-fake",
        "finish_reason": finish_reason,
        "message": message,
        "usage": usage_ if usage_ is not None else usage(),
    }


def tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def text_stream(*pieces: str, finish_reason: str = "COMPLETE", usage_: dict[str, Any] | None = None) -> bytes:
    events = [
        event("message-start", id="c-fake", delta={"message": {"role": "assistant"}}),
        event("content-start", index=0, delta={"message": {"content": {"type": "text", "text": ""}}}),
        *(event("content-delta", index=0, delta={"message": {"content": {"text": piece}}}) for piece in pieces),
        event("content-end", index=0),
        event("message-end", delta={"finish_reason": finish_reason, "usage": usage_ or usage()}),
    ]
    return sse_events(*events)


def tool_stream(name: str, fragments: tuple[str, ...] = ('{"q": ', '"x"}'), *, plan: str = "I will look.") -> bytes:
    events = [
        event("message-start", id="c-fake", delta={"message": {"role": "assistant"}}),
        event("tool-plan-delta", delta={"message": {"tool_plan": plan}}),
        event(
            "tool-call-start",
            index=0,
            delta={
                "message": {
                    "tool_calls": {"id": "call_1", "type": "function", "function": {"name": name, "arguments": ""}}
                }
            },
        ),
        *(
            event("tool-call-delta", index=0, delta={"message": {"tool_calls": {"function": {"arguments": f}}}})
            for f in fragments
        ),
        event("tool-call-end", index=0),
        event("message-end", delta={"finish_reason": "TOOL_CALL", "usage": usage()}),
    ]
    return sse_events(*events)


class FakeCohere(FakeOpenAI):
    def __init__(self) -> None:
        super().__init__()
        self.app = web.Application(client_max_size=64 * 1024 * 1024)  # Cohere's routes only
        self.app.router.add_post("/v2/chat", self._handle("chat"))
        self.app.router.add_post("/v2/embed", self._handle("embeddings"))
        self.app.router.add_post("/v2/rerank", self._handle("rerank"))

    def fail(  # type: ignore[override]
        self, status: int, message: str, *, headers: dict[str, str] | None = None, **_: Any
    ) -> None:
        self.reply_json({"id": "err-fake", "message": message}, status=status, headers=headers)

    async def _default_chat(self, recorded: Recorded) -> web.StreamResponse:
        """Hello!, or a call of the first tool offered; streamed as typed events when asked."""
        body = recorded.json or {}
        tools = body.get("tools") or []
        name = tools[0]["function"]["name"] if tools else None
        if body.get("stream"):
            payload = tool_stream(name) if name else text_stream("Hel", "lo!")
            return web.Response(body=payload, content_type="text/event-stream")
        if name:
            calls = [tool_call("call_1", name, '{"q": "x"}')]
            return web.json_response(chat_response(None, tool_calls=calls, finish_reason="TOOL_CALL"))
        return web.json_response(chat_response())

    async def _default_embeddings(self, recorded: Recorded) -> web.StreamResponse:
        body = recorded.json or {}
        texts = body.get("texts") or []
        size = int(body.get("output_dimension") or 4)
        vectors = [[round(0.1 * (i + 1) + 0.01 * d, 4) for d in range(size)] for i in range(len(texts))]
        tokens = sum(len(str(text).split()) for text in texts)
        return web.json_response(
            {
                "id": "e-fake",
                "response_type": "embeddings_by_type",
                "embeddings": {"float": vectors},
                "texts": texts,
                "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": tokens}},
            }
        )

    async def _default_rerank(self, recorded: Recorded) -> web.StreamResponse:
        body = recorded.json or {}
        documents = body.get("documents") or []
        # The last document scores best, so the order must come from the scores, not the input.
        results = [
            {"index": i, "relevance_score": round((i + 1) / (len(documents) + 1), 4)} for i in range(len(documents))
        ]
        results.sort(key=lambda r: r["relevance_score"], reverse=True)
        if body.get("top_n"):
            results = results[: body["top_n"]]
        return web.json_response(
            {
                "id": "r-fake",
                "results": results,
                "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
            }
        )
