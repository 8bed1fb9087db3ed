"""An OpenAI-wire upstream on 127.0.0.1: queue replies, run the code, read `requests`.

Serves the routes of OpenAI and of the compatible servers (chat, the legacy completions, embeddings, R1 rerank,
audio, moderation, models), at `/v1/...` and at Azure's `/openai/deployments/{deployment}/...`. With nothing
queued, each route answers a plausible default, so SDK round trips need no setup; queue replies to script a test
precisely.
"""

from __future__ import annotations

import asyncio
import base64
import struct
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.vendor_rules import chat_refusal

Reply = Callable[[web.Request, "Recorded"], Awaitable[web.StreamResponse]]


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any = None
    form: dict[str, Any] = field(default_factory=dict)

    @classmethod
    async def of(cls, request: web.Request) -> Recorded:
        headers = {k.lower(): v for k, v in request.headers.items()}
        if request.content_type == "multipart/form-data":
            form = {}
            for name, value in (await request.post()).items():
                form[name] = value.file.read() if hasattr(value, "file") else value
                if hasattr(value, "filename"):
                    form[f"{name}.filename"] = value.filename
                    form[f"{name}.content_type"] = value.content_type
            return cls(request.method, request.path, dict(request.query), headers, b"", None, form)
        body = await request.read()
        parsed = orjson.loads(body) if body and request.content_type == "application/json" else None
        return cls(request.method, request.path, dict(request.query), headers, body, parsed)


def sse(*payloads: Any, done: bool = True) -> bytes:
    """Event-stream bytes for the given chunk objects, ending with `data: [DONE]` unless told otherwise."""
    events = [b"data: " + (p if isinstance(p, bytes) else orjson.dumps(p)) + b"\n\n" for p in payloads]
    if done:
        events.append(b"data: [DONE]\n\n")
    return b"".join(events)


def chat_chunk(delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": extra.pop("model", "fake-model"),
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        **extra,
    }


def usage_chunk(prompt: int, completion: int, **details: Any) -> dict[str, Any]:
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion, **details}
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "fake-model",
        "choices": [],
        "usage": usage,
    }


def completion(
    content: str | None = "Hello!",
    *,
    tool_calls: Sequence[dict[str, Any]] = (),
    reasoning: str | None = None,
    finish_reason: str = "stop",
    usage: tuple[int, int] | None = (9, 3),
    model: str = "fake-model",
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = list(tool_calls)
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    body: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}],
    }
    if usage is not None:
        body["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}
    return body


def text_completion(
    text: str = "Hello!", *, finish_reason: str | None = "stop", usage: tuple[int, int] | None = (5, 2), **extra: Any
) -> dict[str, Any]:
    """A legacy /completions answer (the openai SDK's `Completion`), or one chunk of its stream."""
    choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}
    body: dict[str, Any] = {
        "id": "cmpl-fake",
        "object": "text_completion",
        "created": 1_700_000_000,
        "model": extra.pop("model", "fake-model"),
        "choices": [choice],
        **extra,
    }
    if usage is not None:
        body["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}
    return body


def tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def error_body(message: str, *, type: str = "invalid_request_error", code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": None, "code": code}}


class FakeOpenAI:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._replies: list[Reply] = []
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        for prefix in ("/v1", "/openai/deployments/{deployment}", "/openai/v1"):
            self.app.router.add_post(prefix + "/chat/completions", self._handle("chat"))
            self.app.router.add_post(prefix + "/completions", self._handle("completion"))
            self.app.router.add_post(prefix + "/embeddings", self._handle("embeddings"))
            self.app.router.add_post(prefix + "/rerank", self._handle("rerank"))
            self.app.router.add_post(prefix + "/audio/transcriptions", self._handle("transcription"))
            self.app.router.add_post(prefix + "/audio/speech", self._handle("speech"))
            self.app.router.add_post(prefix + "/moderations", self._handle("moderation"))
            self.app.router.add_get(prefix + "/models", self._handle("models"))
            self.app.router.add_get(prefix + "/models/{model_id}", self._handle("model"))
        self.url = ""  # set by the fixture once the server listens
        self.disconnects = 0  # streams the client abandoned before the end
        self.strict = True  # refuse what the model's vendor refuses (tests/fakes/vendor_rules.py)

    # --- scripting ----------------------------------------------------------------------------------------------

    def reply_json(self, body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> None:
        async def reply(request: web.Request, recorded: Recorded) -> web.StreamResponse:
            return web.Response(
                body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
            )

        self._replies.append(reply)

    def reply_chat(self, content: str | None = "Hello!", **kwargs: Any) -> None:
        self.reply_json(completion(content, **kwargs))

    def fail(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        type: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.reply_json(error_body(message, type=type, code=code), status=status, headers=headers)

    def reply_raw(self, body: bytes, *, status: int = 200, content_type: str = "text/plain") -> None:
        async def reply(request: web.Request, recorded: Recorded) -> web.StreamResponse:
            return web.Response(body=body, status=status, content_type=content_type)

        self._replies.append(reply)

    def stream(
        self,
        body: bytes,
        *,
        piece_size: int | None = None,
        pause_s: float = 0.0,
        stall_after: int | None = None,
        stall_s: float = 30.0,
        drop_after: int | None = None,
        content_type: str = "text/event-stream",
    ) -> None:
        """Stream `body` in pieces: tiny pieces test decoders, stalls test timeouts, drops test broken streams."""

        async def reply(request: web.Request, recorded: Recorded) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": content_type, "Cache-Control": "no-cache"})
            await response.prepare(request)
            size = piece_size or len(body) or 1
            pieces = [body[i : i + size] for i in range(0, len(body), size)]
            try:
                for number, piece in enumerate(pieces):
                    if drop_after is not None and number == drop_after:
                        assert request.transport is not None
                        request.transport.close()
                        return response
                    if stall_after is not None and number == stall_after:
                        await asyncio.sleep(stall_s)
                    await response.write(piece)
                    if pause_s:
                        await asyncio.sleep(pause_s)
                await response.write_eof()
            except (ConnectionError, asyncio.CancelledError):
                self.disconnects += 1
                raise
            return response

        self._replies.append(reply)

    def hang(self) -> None:
        """Never answer: hold the request until the client goes away, then count it in `disconnects`."""

        async def reply(request: web.Request, recorded: Recorded) -> web.StreamResponse:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:  # the test server cancels a handler whose client left
                self.disconnects += 1
                raise
            raise AssertionError("unreachable")

        self._replies.append(reply)

    def stall(self, seconds: float) -> None:
        """Hold the request this long before any byte of the answer."""

        async def reply(request: web.Request, recorded: Recorded) -> web.StreamResponse:
            await asyncio.sleep(seconds)
            return web.json_response(completion())

        self._replies.append(reply)

    # --- serving ------------------------------------------------------------------------------------------------

    def _handle(self, kind: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            recorded = await Recorded.of(request)
            self.requests.append(recorded)
            refusal = chat_refusal(recorded.json) if kind == "chat" and self.strict else None
            if refusal is not None:  # what the real vendor refuses, it refuses here too, before any queued reply
                return web.json_response(refusal[1], status=refusal[0])
            if self._replies:
                return await self._replies.pop(0)(request, recorded)
            return await getattr(self, f"_default_{kind}")(recorded)

        return handle

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    async def _default_chat(self, recorded: Recorded) -> web.StreamResponse:
        """Hello!, or a call of the first tool offered; streamed when asked, with usage when asked."""
        body = recorded.json or {}
        model = body.get("model", "fake-model")
        tools = body.get("tools") or []
        call = tool_call("call_1", tools[0]["function"]["name"], '{"q": "x"}') if tools else None
        if not body.get("stream"):
            if call is not None:
                return web.json_response(completion(None, tool_calls=[call], finish_reason="tool_calls", model=model))
            return web.json_response(completion(model=model))
        if call is not None:
            delta = {"tool_calls": [{"index": 0, **call}]}
            events = [chat_chunk(delta, model=model), chat_chunk({}, "tool_calls", model=model)]
        else:
            events = [
                chat_chunk({"role": "assistant", "content": "Hel"}, model=model),
                chat_chunk({"content": "lo!"}, "stop", model=model),
            ]
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(usage_chunk(9, 3))
        return web.Response(body=sse(*events), content_type="text/event-stream")

    async def _default_completion(self, recorded: Recorded) -> web.StreamResponse:
        """Hello! for a prompt, streamed in two pieces when asked, with a usage chunk when asked."""
        body = recorded.json or {}
        model = body.get("model", "fake-model")
        if not body.get("stream"):
            return web.json_response(text_completion(model=model))
        events = [
            text_completion("Hel", finish_reason=None, usage=None, model=model),
            text_completion("lo!", usage=None, model=model),
        ]
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({**text_completion(usage=(5, 2), model=model), "choices": []})
        return web.Response(body=sse(*events), content_type="text/event-stream")

    async def _default_embeddings(self, recorded: Recorded) -> web.StreamResponse:
        body = recorded.json or {}
        inputs = body.get("input", [])
        inputs = [inputs] if isinstance(inputs, str) else inputs
        size = int(body.get("dimensions") or 4)
        data = []
        for index, _ in enumerate(inputs):
            vector = [round(0.1 * (index + 1) + 0.01 * d, 4) for d in range(size)]
            if body.get("encoding_format") == "base64":
                packed = struct.pack(f"<{size}f", *vector)
                data.append({"object": "embedding", "index": index, "embedding": base64.b64encode(packed).decode()})
            else:
                data.append({"object": "embedding", "index": index, "embedding": vector})
        tokens = sum(len(str(text).split()) for text in inputs)
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body.get("model", "fake"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def _default_rerank(self, recorded: Recorded) -> web.StreamResponse:
        body = recorded.json or {}
        documents = body.get("documents", [])
        scores = [round(1.0 / (1 + index), 4) for index in range(len(documents))][::-1]
        results = sorted(
            ({"index": i, "relevance_score": s} for i, s in enumerate(scores)),
            key=lambda r: r["relevance_score"],
            reverse=True,
        )
        if body.get("top_n"):
            results = results[: body["top_n"]]
        return web.json_response(
            {"id": "rr-fake", "model": body.get("model"), "results": results, "usage": {"total_tokens": 12}}
        )

    async def _default_transcription(self, recorded: Recorded) -> web.StreamResponse:
        if recorded.form.get("response_format") == "text":
            return web.Response(text="hello world\n")
        return web.json_response({"text": "hello world", "usage": {"type": "duration", "seconds": 2}})

    async def _default_speech(self, recorded: Recorded) -> web.StreamResponse:
        audio = b"ID3" + bytes(range(256)) * 8
        return web.Response(body=audio, content_type="audio/mpeg")

    async def _default_moderation(self, recorded: Recorded) -> web.StreamResponse:
        inputs = (recorded.json or {}).get("input", [])
        inputs = [inputs] if isinstance(inputs, str) else inputs
        results = []
        for text in inputs:
            flagged = "kill" in str(text)
            results.append(
                {
                    "flagged": flagged,
                    "categories": {"violence": flagged, "hate": False, "self-harm/intent": False},
                    "category_scores": {"violence": 0.97 if flagged else 0.01, "hate": 0.001, "self-harm/intent": 0.0},
                    "category_applied_input_types": {
                        "violence": ["text"],
                        "hate": ["text"],
                        "self-harm/intent": ["text"],
                    },
                }
            )
        return web.json_response({"id": "modr-fake", "model": "omni-moderation-latest", "results": results})

    async def _default_model(self, recorded: Recorded) -> web.StreamResponse:
        """One model, as OpenAI's retrieve-model answers (the SDK's `Model`)."""
        model_id = recorded.path.rsplit("/", 1)[-1]
        return web.json_response({"id": model_id, "object": "model", "created": 1_700_000_000, "owned_by": "fake"})

    async def _default_models(self, recorded: Recorded) -> web.StreamResponse:
        created = int(time.time())
        data = [
            {"id": name, "object": "model", "created": created, "owned_by": "fake"}
            for name in ("fake-chat", "fake-embed")
        ]
        return web.json_response({"object": "list", "data": data})
