"""OpenAI with the Responses API (`POST /v1/responses`, and Azure's `/openai/v1/responses`) beside every route of
the OpenAI fake. Written from the `openai` SDK's types (openai 3.63, `types/responses/`), not from modelyard's
code; tests/protocols/openai_responses/test_sdk.py holds it to the SDK, which must parse all it serves.

With nothing queued, `/responses` answers "Hello!" (or a call of the first tool offered), streamed when asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.openai import FakeOpenAI, Recorded

CREATED_AT = 1_767_000_000


def usage(input_tokens: int = 9, output_tokens: int = 3, *, cached: int = 0, reasoning: int = 0) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": input_tokens + output_tokens,
    }


def message(text: str, *, item_id: str = "msg_fake1", status: str = "completed") -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {"id": item_id, "type": "message", "role": "assistant", "status": status, "content": [part]}


def refusal(text: str, *, item_id: str = "msg_fake1") -> dict[str, Any]:
    part = {"type": "refusal", "refusal": text}
    return {"id": item_id, "type": "message", "role": "assistant", "status": "completed", "content": [part]}


def function_call(call_id: str, name: str, arguments: str, *, item_id: str = "fc_fake1") -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": "completed",
    }


def reasoning(*summaries: str, item_id: str = "rs_fake1") -> dict[str, Any]:
    return {"id": item_id, "type": "reasoning", "summary": [{"type": "summary_text", "text": s} for s in summaries]}


def response(
    *output: dict[str, Any],
    model: str = "fake-model",
    status: str = "completed",
    tokens: dict[str, Any] | None = None,
    incomplete: str | None = None,
    error: dict[str, Any] | None = None,
    response_id: str = "resp_fake",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": CREATED_AT,
        "status": status,
        "error": error,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "instructions": None,
        "max_output_tokens": None,
        "model": model,
        "output": list(output),
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": False,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": tokens if tokens is not None else (usage() if status != "in_progress" else None),
        "metadata": {},
    }
    if status == "completed":
        body["completed_at"] = CREATED_AT + 1
    return body


def events(final: dict[str, Any], *, piece: int = 3) -> list[dict[str, Any]]:
    """The typed events a stream of `final` sends, OpenAI's order: created, in_progress, each item bracketed by
    added/done with its parts and deltas (`piece` characters each) inside, then the terminal event."""
    started = {**final, "status": "in_progress", "output": [], "usage": None}
    started.pop("completed_at", None)
    out: list[dict[str, Any]] = [
        {"type": "response.created", "response": started},
        {"type": "response.in_progress", "response": started},
    ]
    for index, item in enumerate(final["output"]):
        out.extend(_item_events(index, item, piece))
    terminal = {"completed": "response.completed", "incomplete": "response.incomplete", "failed": "response.failed"}
    out.append({"type": terminal[final["status"]], "response": final})
    return [{**event, "sequence_number": number} for number, event in enumerate(out)]


def _chunks(text: str, piece: int) -> list[str]:
    return [text[i : i + piece] for i in range(0, len(text), piece)] or [""]


def _item_events(index: int, item: dict[str, Any], piece: int) -> list[dict[str, Any]]:
    where = {"item_id": item["id"], "output_index": index}
    kind = item["type"]
    if kind == "function_call":
        opened = {**item, "arguments": "", "status": "in_progress"}
        out = [{"type": "response.output_item.added", "output_index": index, "item": opened}]
        out += [
            {"type": "response.function_call_arguments.delta", **where, "delta": chunk}
            for chunk in _chunks(item["arguments"], piece)
        ]
        out.append({"type": "response.function_call_arguments.done", **where, "arguments": item["arguments"]})
    elif kind == "reasoning":
        out = [{"type": "response.output_item.added", "output_index": index, "item": {**item, "summary": []}}]
        for number, part in enumerate(item["summary"]):
            at = {**where, "summary_index": number}
            out.append({"type": "response.reasoning_summary_part.added", **at, "part": {**part, "text": ""}})
            out += [
                {"type": "response.reasoning_summary_text.delta", **at, "delta": chunk}
                for chunk in _chunks(part["text"], piece)
            ]
            out.append({"type": "response.reasoning_summary_text.done", **at, "text": part["text"]})
            out.append({"type": "response.reasoning_summary_part.done", **at, "part": part})
    else:
        opened = {**item, "status": "in_progress", "content": []}
        out = [{"type": "response.output_item.added", "output_index": index, "item": opened}]
        for number, part in enumerate(item["content"]):
            at = {**where, "content_index": number}
            if part["type"] == "refusal":
                out.append({"type": "response.content_part.added", **at, "part": {**part, "refusal": ""}})
                out += [
                    {"type": "response.refusal.delta", **at, "delta": chunk}
                    for chunk in _chunks(part["refusal"], piece)
                ]
                out.append({"type": "response.refusal.done", **at, "refusal": part["refusal"]})
            else:
                out.append({"type": "response.content_part.added", **at, "part": {**part, "text": ""}})
                out += [
                    {"type": "response.output_text.delta", **at, "delta": chunk, "logprobs": []}
                    for chunk in _chunks(part["text"], piece)
                ]
                out.append({"type": "response.output_text.done", **at, "text": part["text"], "logprobs": []})
            out.append({"type": "response.content_part.done", **at, "part": part})
    out.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return out


def sse(stream_events: Sequence[dict[str, Any]]) -> bytes:
    """Event-stream bytes as OpenAI sends them: an `event:` line naming each type, no `[DONE]` at the end."""
    return b"".join(b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in stream_events)


class FakeOpenAIResponses(FakeOpenAI):
    def __init__(self) -> None:
        super().__init__()
        for prefix in ("/v1", "/openai/v1"):
            self.app.router.add_post(prefix + "/responses", self._handle("responses"))

    def reply_response(self, body: dict[str, Any], *, status: int = 200) -> None:
        self.reply_json(body, status=status)

    def stream_response(self, final: dict[str, Any], **kwargs: Any) -> None:
        """Stream the events of `final` (kwargs as FakeOpenAI.stream: piece_size, drop_after ...)."""
        self.stream(sse(events(final)), **kwargs)

    async def _default_responses(self, recorded: Recorded) -> web.StreamResponse:
        body = recorded.json or {}
        model = body.get("model", "fake-model")
        tools = [tool for tool in body.get("tools") or () if tool.get("type") == "function"]
        item = function_call("call_1", tools[0]["name"], '{"q": "x"}') if tools else message("Hello!")
        final = response(item, model=model)
        if body.get("stream"):
            return web.Response(body=sse(events(final)), content_type="text/event-stream")
        return web.json_response(final)
