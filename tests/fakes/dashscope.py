"""A DashScope upstream on 127.0.0.1: the native routes under /api/v1/services and compatible-mode under
/compatible-mode/v1 (served by the OpenAI fake's handlers).

Native answers are shaped as the `dashscope` SDK 2.0.2 reads them: `{"output", "usage", "request_id"}`,
streams as SSE events with `id:`, `event:result` and `data:` lines when the request says `X-DashScope-SSE:
enable`, incremental or cumulative as `parameters.incremental_output` asks; errors as `{"code", "message",
"request_id"}`. With nothing queued each route answers a plausible default; queue replies to script a test.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from tests.fakes.openai import FakeOpenAI, Recorded

TEXT_GENERATION = "/api/v1/services/aigc/text-generation/generation"
MULTIMODAL_GENERATION = "/api/v1/services/aigc/multimodal-generation/generation"
TEXT_EMBEDDING = "/api/v1/services/embeddings/text-embedding/text-embedding"
MULTIMODAL_EMBEDDING = "/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding"
TEXT_RERANK = "/api/v1/services/rerank/text-rerank/text-rerank"
REQUEST_ID = "0b3c5e8a-fake-4d1e-9f1a-000000000001"


def usage(prompt: int = 9, completion: int = 3, **extra: Any) -> dict[str, Any]:
    return {"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion, **extra}


def message(
    content: str | None = "Hello!",
    *,
    multimodal: bool = False,
    tool_calls: list[dict[str, Any]] | None = None,
    reasoning: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"role": "assistant", "content": [{"text": content}] if multimodal else content or ""}
    if multimodal and content is None:
        body["content"] = []
    if tool_calls:
        body["tool_calls"] = tool_calls
    if reasoning is not None:
        body["reasoning_content"] = reasoning
    return body


def generation(
    content: str | None = "Hello!",
    *,
    finish_reason: str = "stop",
    usage_: dict[str, Any] | None = None,
    **message_fields: Any,
) -> dict[str, Any]:
    choice = {"finish_reason": finish_reason, "message": message(content, **message_fields)}
    return {"output": {"choices": [choice]}, "usage": usage_ or usage(), "request_id": REQUEST_ID}


def recognition(text: str = "Welcome to Qwen Cloud.", *, language: str = "en", seconds: int = 1) -> dict[str, Any]:
    """A Qwen-ASR answer (Qwen-ASR API reference, DashScope synchronous call, read 2026-12)."""
    message_ = {
        "role": "assistant",
        "content": [{"text": text}],
        "annotations": [{"type": "audio_info", "language": language, "emotion": "neutral"}],
    }
    return {
        "output": {"choices": [{"finish_reason": "stop", "message": message_}]},
        "usage": {
            "input_tokens_details": {"text_tokens": 0},
            "output_tokens_details": {"text_tokens": 6},
            "seconds": seconds,
        },
        "request_id": REQUEST_ID,
    }


def tool_call(call_id: str, name: str, arguments: str, index: int = 0) -> dict[str, Any]:
    return {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def sse_events(*payloads: dict[str, Any], error: dict[str, Any] | None = None) -> bytes:
    """DashScope's framing: `id:`, `event:result`, the `:HTTP_STATUS/200` comment, `data:` per event."""
    out = []
    for number, payload in enumerate(payloads, start=1):
        out.append(b"id:%d\nevent:result\n:HTTP_STATUS/200\ndata:%s\n\n" % (number, orjson.dumps(payload)))
    if error is not None:
        number = len(payloads) + 1
        out.append(b"id:%d\nevent:error\n:HTTP_STATUS/400\ndata:%s\n\n" % (number, orjson.dumps(error)))
    return b"".join(out)


def text_stream(
    *pieces: str, incremental: bool = True, multimodal: bool = False, reasoning: tuple[str, ...] = ()
) -> bytes:
    """Reasoning pieces first, then the text, as an incremental stream or a cumulative one."""
    payloads = []
    seen_reasoning, seen = "", ""
    steps = [("reasoning", piece) for piece in reasoning] + [("content", piece) for piece in pieces]
    for number, (kind, piece) in enumerate(steps, start=1):
        if kind == "reasoning":
            seen_reasoning += piece
            said = message("", multimodal=multimodal, reasoning=piece if incremental else seen_reasoning)
        else:
            seen += piece
            said = message(piece if incremental else seen, multimodal=multimodal)
            if reasoning and not incremental:
                said["reasoning_content"] = seen_reasoning
        last = number == len(steps)
        choice = {"finish_reason": "stop" if last else "null", "message": said}
        payloads.append({"output": {"choices": [choice]}, "usage": usage(9, number), "request_id": REQUEST_ID})
    return sse_events(*payloads)


def tool_stream(
    name: str, fragments: tuple[str, ...] = ('{"q": ', '"x"}'), *, incremental: bool = True, multimodal: bool = False
) -> bytes:
    payloads = []
    arguments = ""
    for number, fragment in enumerate(fragments, start=1):
        arguments += fragment
        if incremental and number > 1:  # later fragments carry only the arguments
            call = {"index": 0, "id": "", "type": "function", "function": {"arguments": fragment}}
        else:
            call = tool_call("call_1", name, fragment if incremental else arguments)
        choice = {"finish_reason": "null", "message": message("", multimodal=multimodal, tool_calls=[call])}
        payloads.append({"output": {"choices": [choice]}, "usage": usage(9, number), "request_id": REQUEST_ID})
    # The last event of a cumulative stream is the whole message once more; an incremental one adds nothing.
    whole = None if incremental else [tool_call("call_1", name, arguments)]
    end = {"finish_reason": "tool_calls", "message": message("", multimodal=multimodal, tool_calls=whole)}
    payloads.append({"output": {"choices": [end]}, "usage": usage(9, len(fragments)), "request_id": REQUEST_ID})
    return sse_events(*payloads)


def error_body(code: str, message_: str) -> dict[str, Any]:
    return {"code": code, "message": message_, "request_id": REQUEST_ID}


class FakeDashScope(FakeOpenAI):
    def __init__(self) -> None:
        super().__init__()
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.router.add_post(TEXT_GENERATION, self._handle("text_generation"))
        self.app.router.add_post(MULTIMODAL_GENERATION, self._handle("multimodal_generation"))
        self.app.router.add_post(TEXT_EMBEDDING, self._handle("text_embedding"))
        self.app.router.add_post(MULTIMODAL_EMBEDDING, self._handle("multimodal_embedding"))
        self.app.router.add_post(TEXT_RERANK, self._handle("text_rerank"))
        self.app.router.add_post("/compatible-mode/v1/chat/completions", self._handle("chat"))
        self.app.router.add_post("/compatible-mode/v1/embeddings", self._handle("embeddings"))

    def fail(  # type: ignore[override]
        self, status: int, message: str, *, code: str = "InvalidParameter", headers: dict[str, str] | None = None
    ) -> None:
        self.reply_json(error_body(code, message), status=status, headers=headers)

    async def _default_text_generation(self, recorded: Recorded) -> web.StreamResponse:
        return self._generation(recorded, multimodal=False)

    async def _default_multimodal_generation(self, recorded: Recorded) -> web.StreamResponse:
        return self._generation(recorded, multimodal=True)

    def _generation(self, recorded: Recorded, *, multimodal: bool) -> web.StreamResponse:
        """Hello!, or a call of the first tool offered; streamed as SSE when the header asks; a recognition when
        the messages carry audio to an ASR model."""
        body = recorded.json or {}
        if "messages" not in (body.get("input") or {}):
            return web.json_response(error_body("InvalidParameter", "Either prompt or messages must exist"), status=400)
        if multimodal and "asr" in str(body.get("model")):
            items = [item for m in body["input"]["messages"] for item in (m.get("content") or []) if "audio" in item]
            if not items or not str(items[0]["audio"]).startswith(("data:audio/", "https://")):
                return web.json_response(
                    error_body("InvalidParameter", "The audio is missing or unreadable"), status=400
                )
            return web.json_response(recognition())
        parameters = body.get("parameters") or {}
        tools = parameters.get("tools") or []
        name = tools[0]["function"]["name"] if tools else None
        if recorded.headers.get("x-dashscope-sse") == "enable":
            incremental = bool(parameters.get("incremental_output"))
            payload = (
                tool_stream(name, incremental=incremental, multimodal=multimodal)
                if name
                else text_stream("Hel", "lo!", incremental=incremental, multimodal=multimodal)
            )
            return web.Response(body=payload, content_type="text/event-stream")
        if name:
            calls = [tool_call("call_1", name, '{"q": "x"}')]
            answer = generation(None, tool_calls=calls, finish_reason="tool_calls", multimodal=multimodal)
            return web.json_response(answer)
        return web.json_response(generation(multimodal=multimodal))

    async def _default_text_embedding(self, recorded: Recorded) -> web.StreamResponse:
        body = recorded.json or {}
        texts = (body.get("input") or {}).get("texts") or []
        size = int((body.get("parameters") or {}).get("dimension") or 4)
        embeddings = [
            {"text_index": i, "embedding": [round(0.1 * (i + 1) + 0.01 * d, 4) for d in range(size)]}
            for i in range(len(texts))
        ]
        embeddings.reverse()  # the order must come from text_index, not the list
        tokens = sum(len(str(text).split()) for text in texts)
        return web.json_response(
            {"output": {"embeddings": embeddings}, "usage": {"total_tokens": tokens}, "request_id": REQUEST_ID}
        )

    async def _default_multimodal_embedding(self, recorded: Recorded) -> web.StreamResponse:
        """One vector per content item, by `index` (not text_index), reversed like the text route's."""
        body = recorded.json or {}
        contents = (body.get("input") or {}).get("contents") or []
        if not contents or any(len(item) != 1 for item in contents):
            return web.json_response(error_body("InvalidParameter", "each content sets one modality"), status=400)
        size = int((body.get("parameters") or {}).get("dimension") or 4)
        embeddings = [
            {"index": i, "type": "text", "embedding": [round(0.2 * (i + 1) + 0.01 * d, 4) for d in range(size)]}
            for i in range(len(contents))
        ]
        embeddings.reverse()
        usage_ = {"input_tokens": 5 * len(contents), "image_tokens": 0}
        return web.json_response({"output": {"embeddings": embeddings}, "usage": usage_, "request_id": REQUEST_ID})

    async def _default_text_rerank(self, recorded: Recorded) -> web.StreamResponse:
        body = recorded.json or {}
        payload = body.get("input") or {}
        parameters = body.get("parameters") or {}
        documents = payload.get("documents") or []
        # The last document scores best, so the order must come from the scores, not the input.
        results: list[dict[str, Any]] = [
            {"index": i, "relevance_score": round((i + 1) / (len(documents) + 1), 4)} for i in range(len(documents))
        ]
        results.sort(key=lambda r: r["relevance_score"], reverse=True)
        if parameters.get("top_n"):
            results = results[: parameters["top_n"]]
        if parameters.get("return_documents"):
            for result in results:
                result["document"] = {"text": documents[result["index"]]}
        return web.json_response(
            {"output": {"results": results}, "usage": {"total_tokens": 12}, "request_id": REQUEST_ID}
        )
