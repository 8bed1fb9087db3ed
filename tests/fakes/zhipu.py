"""A Zhipu BigModel v4 upstream on 127.0.0.1: OpenAI's routes under /api/paas/v4, Zhipu's answers and auth.

Every request's bearer is checked: a known API key as is, or a JWT that must carry Zhipu's header
(`sign_type: SIGN`), a known key id, millisecond `exp`/`timestamp` not yet expired, and a valid HS256 signature
made with that key's secret. A refused request gets Zhipu's own error body (code 1002 or 1003, HTTP 401).
"""

from __future__ import annotations

import base64
import hmac
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.openai import FakeOpenAI, Recorded, chat_chunk, completion, sse, tool_call

PREFIX = "/api/paas/v4"


def zhipu_error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def usage(prompt: int = 9, completion_tokens: int = 3) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion_tokens, "total_tokens": prompt + completion_tokens}


class FakeZhipu(FakeOpenAI):
    def __init__(self, api_keys: Iterable[str] = ()) -> None:
        super().__init__()
        self.api_keys = set(api_keys)
        self.tokens: list[dict[str, Any]] = []  # the verified JWT payloads, in order
        self.app.router.add_post(PREFIX + "/chat/completions", self._handle("chat"))
        self.app.router.add_post(PREFIX + "/embeddings", self._handle("embeddings"))
        self.clock: Callable[[], float] = time.time

    # --- scripting ----------------------------------------------------------------------------------------------

    def fail_with(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        self.reply_json(zhipu_error(code, message), status=status, headers=headers)

    # --- serving ------------------------------------------------------------------------------------------------

    def _handle(self, kind: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        served = super()._handle(kind)

        async def handle(request: web.Request) -> web.StreamResponse:
            refusal = self._refusal(request.headers.get("Authorization", ""))
            if refusal is not None:
                self.requests.append(await Recorded.of(request))
                return web.json_response(zhipu_error(*refusal), status=401)
            return await served(request)

        return handle

    def _refusal(self, authorization: str) -> tuple[str, str] | None:
        scheme, _, token = authorization.partition(" ")
        if scheme != "Bearer" or not token:
            return "1001", "Header 中未收到 Authentication 参数"
        if token in self.api_keys:
            return None
        if token.count(".") != 2:
            return "1002", "Authentication Token 非法"
        header_b64, payload_b64, signature_b64 = token.split(".")
        header, payload = _unb64_json(header_b64), _unb64_json(payload_b64)
        if header.get("alg") != "HS256" or header.get("sign_type") != "SIGN":
            return "1002", "Authentication Token 非法"
        secrets = {key.partition(".")[0]: key.partition(".")[2] for key in self.api_keys if "." in key}
        secret = secrets.get(payload.get("api_key", ""))
        if secret is None:
            return "1002", "Authentication Token 非法"
        expected = hmac.digest(secret.encode(), f"{header_b64}.{payload_b64}".encode(), "sha256")
        if not hmac.compare_digest(expected, _unb64(signature_b64)):
            return "1002", "Authentication Token 非法"
        now_ms = self.clock() * 1000
        # Milliseconds: a token made with seconds would look expired since 1970.
        if (
            not isinstance(payload.get("exp"), int)
            or payload["exp"] <= now_ms
            or payload.get("timestamp", now_ms + 1) > now_ms
        ):
            return "1003", "Authentication Token 已过期"
        self.tokens.append(payload)
        return None

    async def _default_chat(self, recorded: Recorded) -> web.StreamResponse:
        """Hello!, or a call of the first tool offered; a stream ends with usage on its last chunk (Zhipu's way)."""
        body = recorded.json or {}
        model = body.get("model", "glm-4-flash")
        tools = [t for t in body.get("tools") or [] if t.get("type") == "function"]
        call = tool_call("call_-8961", tools[0]["function"]["name"], '{"q": "x"}') if tools else None
        if not body.get("stream"):
            if call is not None:
                answer = completion(None, tool_calls=[call], finish_reason="tool_calls", model=model)
            else:
                answer = completion(model=model)
            answer["request_id"] = "req-fake"
            for choice in answer["choices"]:  # Zhipu's message has no refusal, its choice no logprobs
                choice.pop("logprobs", None)
                choice["message"].pop("refusal", None)
            return web.json_response(answer)
        if call is not None:  # Zhipu sends a tool call whole, in one delta
            events = [chat_chunk({"role": "assistant", "tool_calls": [{"index": 0, **call}]}, model=model)]
            last = chat_chunk({"role": "assistant", "content": ""}, "tool_calls", model=model, usage=usage())
        else:
            events = [chat_chunk({"role": "assistant", "content": "Hel"}, model=model)]
            last = chat_chunk({"role": "assistant", "content": "lo!"}, "stop", model=model, usage=usage())
        for event in (*events, last):
            for choice in event["choices"]:
                choice.pop("logprobs", None)
        return web.Response(body=sse(*events, last), content_type="text/event-stream")

    async def _default_embeddings(self, recorded: Recorded) -> web.StreamResponse:
        body = recorded.json or {}
        inputs = body.get("input", [])
        inputs = [inputs] if isinstance(inputs, str) else inputs
        size = int(body.get("dimensions") or 8)
        data = [
            {"object": "embedding", "index": i, "embedding": [round(0.1 * (i + 1) + 0.01 * d, 4) for d in range(size)]}
            for i, _ in enumerate(inputs)
        ]
        tokens = sum(len(str(text).split()) for text in inputs)
        answer = {"object": "list", "data": data, "model": body.get("model"), "usage": usage(tokens, 0)}
        return web.json_response(answer)


def jwt_payload(token: str) -> dict[str, Any]:
    return _unb64_json(token.split(".")[1])


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _unb64_json(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(_unb64(text))
    except (ValueError, orjson.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}
