"""Volcengine's legacy MaaS v2 API on 127.0.0.1, checking every Volcengine V4 signature with the SDK's own signer.

Routes: `/api/v2/endpoint/{endpoint_id}/chat` (plain, or SSE with `choices[].message` pieces, usage on the last
event, `[DONE]`) and `/embeddings`. Each request's signature is recomputed with `volcengine.auth.SignerV4` from
what arrived (the headers the client said it signed, the raw path and query, the body bytes, its X-Date); a
mismatch answers 401 `SignatureDoesNotMatch` in MaaS's error shape, and `signature_ok` records each verdict.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any
from unittest.mock import patch

import orjson
from aiohttp import web
from volcengine.auth.SignerV4 import SignerV4
from volcengine.base.Request import Request
from volcengine.Credentials import Credentials

from tests.fakes.openai import Recorded

Reply = Callable[[web.Request, Recorded], Awaitable[web.StreamResponse]]
_AUTHORIZATION = re.compile(
    r"^HMAC-SHA256 Credential=(?P<ak>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/request, "
    r"SignedHeaders=(?P<signed>[^,]+), Signature=[0-9a-f]{64}$"
)


def answer(
    content: str | None = "Hello!",
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str = "stop",
    usage: tuple[int, int] | None = (9, 3),
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content or ""}
    if tool_calls:
        message["tool_calls"] = tool_calls
    body: dict[str, Any] = {
        "req_id": "req-fake-0001",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "error": None,
    }
    if usage is not None:
        body["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}
    return body


def piece(content: str, finish_reason: str | None = None, usage: tuple[int, int] | None = None) -> dict[str, Any]:
    body = answer(content, finish_reason=finish_reason or "", usage=usage)
    body["choices"][0]["finish_reason"] = finish_reason
    return body


def function_call(name: str, arguments: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "arguments": arguments}}


def sse(*payloads: Any, done: bool = True) -> bytes:
    """MaaS's event stream: `data:` with no space after the colon (the SDK's decoder keeps such a space and then
    fails on `[DONE]`), ending `data:[DONE]`."""
    events = [b"data:" + orjson.dumps(p) + b"\n\n" for p in payloads]
    return b"".join(events) + (b"data:[DONE]\n\n" if done else b"")


def error_body(code: str, message: str, code_n: int = 1709801) -> dict[str, Any]:
    return {"req_id": "req-fake-0001", "error": {"code_n": code_n, "code": code, "message": message}}


class FakeVolcengineMaaS:
    def __init__(self, keys: dict[str, str] | None = None) -> None:
        self.keys = dict(keys or {})  # access key id -> secret access key
        self.requests: list[Recorded] = []
        self.signature_ok: list[bool] = []
        self._replies: list[Reply] = []
        self.app = web.Application()
        self.app.router.add_post("/api/v2/endpoint/{endpoint_id}/chat", self._handle(self._default_chat))
        self.app.router.add_post("/api/v2/endpoint/{endpoint_id}/embeddings", self._handle(self._default_embeddings))
        self.url = ""

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    # --- scripting ----------------------------------------------------------------------------------------------

    def reply_json(self, body: Any, *, status: int = 200) -> None:
        async def reply(request: web.Request, recorded: Recorded) -> web.StreamResponse:
            return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")

        self._replies.append(reply)

    def fail(self, code: str, message: str, *, status: int = 400, code_n: int = 1709801) -> None:
        self.reply_json(error_body(code, message, code_n), status=status)

    def stream(self, body: bytes) -> None:
        async def reply(request: web.Request, recorded: Recorded) -> web.StreamResponse:
            return web.Response(body=body, content_type="text/event-stream")

        self._replies.append(reply)

    # --- serving ------------------------------------------------------------------------------------------------

    def _handle(self, default: Reply) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            recorded = await Recorded.of(request)
            self.requests.append(recorded)
            ok = self._signature_is_valid(request, recorded)
            self.signature_ok.append(ok)
            if not ok:
                body = error_body(
                    "SignatureDoesNotMatch", "The request signature we calculated does not match", 1709701
                )
                return web.json_response(body, status=401)
            reply = self._replies.pop(0) if self._replies else default
            return await reply(request, recorded)

        return handle

    def _signature_is_valid(self, request: web.Request, recorded: Recorded) -> bool:
        match = _AUTHORIZATION.match(request.headers.get("Authorization", ""))
        if match is None or match["ak"] not in self.keys:
            return False
        headers: OrderedDict[str, str] = OrderedDict()
        for name in match["signed"].split(";"):
            canonical = {"host": "Host", "content-type": "Content-Type", "content-md5": "Content-Md5"}.get(name)
            headers[canonical or "X-" + name[2:]] = request.headers.get(name, "")
        volc = Request()
        volc.set_method(request.method)
        volc.set_path(request.raw_path.split("?")[0])
        volc.set_query(OrderedDict(request.query.items()))
        volc.set_headers(headers)
        volc.set_body(recorded.body)
        token = request.headers.get("X-Security-Token", "")
        credentials = Credentials(match["ak"], self.keys[match["ak"]], match["service"], match["region"], token)
        x_date = request.headers.get("X-Date", "")
        with patch.object(SignerV4, "get_current_format_date", staticmethod(lambda: x_date)):
            SignerV4.sign(volc, credentials)
        return bool(volc.headers["Authorization"] == request.headers["Authorization"])

    async def _default_chat(self, request: web.Request, recorded: Recorded) -> web.StreamResponse:
        """Hello!, or a call of the first tool offered; streamed when asked, usage on the last event."""
        body = recorded.json or {}
        tools = body.get("tools") or []
        call = function_call(tools[0]["function"]["name"], '{"q": "x"}') if tools else None
        if not body.get("stream"):
            if call is not None:
                return web.json_response(answer("", tool_calls=[call], finish_reason="tool_calls"))
            return web.json_response(answer())
        if call is not None:
            events = [answer("", tool_calls=[call], finish_reason="tool_calls", usage=(9, 3))]
        else:
            events = [piece("Hel"), piece("lo!"), piece("", "stop", usage=(9, 3))]
        return web.Response(body=sse(*events), content_type="text/event-stream")

    async def _default_embeddings(self, request: web.Request, recorded: Recorded) -> web.StreamResponse:
        texts = (recorded.json or {}).get("input", [])
        data = [
            {"index": i, "object": "embedding", "embedding": [round(0.1 * (i + 1) + 0.01 * d, 4) for d in range(4)]}
            for i, _ in enumerate(texts)
        ]
        tokens = sum(len(str(text).split()) for text in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return web.json_response({"req_id": "req-fake-0002", "data": data, "usage": usage, "error": None})
