"""An iFlytek Spark upstream on 127.0.0.1: the WebSocket chat API, signature checked, and the HTTP API.

The socket routes (`/v4.0/chat`, `/chat/max-32k`, ...) verify the signed URL the way the docs describe it
(recompute the HMAC over host, date and request line with the key's secret; a date more than 300 s away is
refused) and answer a refused handshake with HTTP 401/403, as Spark does. Then they read the one request frame
and answer frames shaped as the docs show: text pieces with `header.status` 0/1, the last with status 2 and
`payload.usage.text`; a `function_call` when functions were offered. `/v1/chat/completions` is FakeOpenAI's.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from modelyard.signing.spark_url import signature
from tests.fakes.openai import FakeOpenAI, Recorded
from tests.support import SECRET

_ORIGIN = re.compile(
    r'api_key="([^"]*)", algorithm="hmac-sha256", headers="host date request-line", signature="([^"]*)"'
)
Script = Callable[[web.WebSocketResponse, dict[str, Any]], Awaitable[None]]


def answer_frame(
    text: str = "",
    *,
    status: int = 1,
    seq: int = 0,
    function_call: dict[str, str] | None = None,
    usage: dict[str, int] | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {"content": text, "role": "assistant", "index": 0}
    if function_call is not None:
        item["function_call"] = function_call
    payload: dict[str, Any] = {"choices": {"status": status, "seq": seq, "text": [item]}}
    if usage is not None:
        payload["usage"] = {"text": usage}
    return {"header": {"code": 0, "message": "Success", "sid": "cht000fake", "status": status}, "payload": payload}


def usage_text(prompt: int = 9, completion: int = 3) -> dict[str, int]:
    return {
        "question_tokens": 2,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def error_frame(code: int, message: str) -> dict[str, Any]:
    return {"header": {"code": code, "message": message, "sid": "cht000fake", "status": 2}}


class FakeSpark(FakeOpenAI):
    def __init__(self, keys: dict[str, str] | None = None, *, max_skew_s: float = 300.0) -> None:
        super().__init__()
        self.keys = keys if keys is not None else {SECRET: SECRET}  # APIKey -> APISecret
        self.max_skew_s = max_skew_s
        self.sockets_closed_early = 0  # exchanges the client closed before the last frame
        self._scripts: list[Script] = []
        self.app.router.add_get("/{version}/chat", self._socket)
        self.app.router.add_get("/chat/{domain}", self._socket)

    # --- scripting ----------------------------------------------------------------------------------------------

    def send_frames(self, *frames: dict[str, Any], pause_s: float = 0.0, close: bool = True) -> None:
        async def script(ws: web.WebSocketResponse, request: dict[str, Any]) -> None:
            for frame in frames:
                await ws.send_str(orjson.dumps(frame).decode())
                if pause_s:
                    await asyncio.sleep(pause_s)
            if not close:
                await asyncio.sleep(3600)

        self._scripts.append(script)

    def send_error(self, code: int, message: str) -> None:
        self.send_frames(error_frame(code, message))

    def stall_socket(self, seconds: float, *, after: tuple[dict[str, Any], ...] = ()) -> None:
        """Send `after` frames, then hold the socket open without a word."""

        async def script(ws: web.WebSocketResponse, request: dict[str, Any]) -> None:
            for frame in after:
                await ws.send_str(orjson.dumps(frame).decode())
            await asyncio.sleep(seconds)

        self._scripts.append(script)

    # --- serving ------------------------------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        message = await ws.receive(timeout=60)  # Spark closes an idle socket after 60 s
        if message.type != aiohttp.WSMsgType.TEXT:
            await ws.close()
            return ws
        body = orjson.loads(message.data)
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(Recorded("GET", request.path, dict(request.query), headers, message.data.encode(), body))
        script = self._scripts.pop(0) if self._scripts else self._default_answer
        if not (body.get("header") or {}).get("app_id"):
            script = _missing_app_id
        try:
            await script(ws, body)
        except (ConnectionError, asyncio.CancelledError):
            self.sockets_closed_early += 1
            raise
        if not ws.closed:
            await ws.close()
        return ws

    def _refusal(self, request: web.Request) -> web.Response | None:
        query = request.query
        try:
            origin = base64.b64decode(query["authorization"]).decode()
            date, host = query["date"], query["host"]
        except (KeyError, ValueError):
            return web.json_response({"message": "Unauthorized"}, status=401)
        match = _ORIGIN.fullmatch(origin)
        if match is None or host != request.host:
            return web.json_response({"message": "Unauthorized"}, status=401)
        api_key, signed = match.groups()
        secret = self.keys.get(api_key)
        expected = signature(secret, host, date, f"GET {request.path} HTTP/1.1") if secret else None
        if expected is None or signed != expected:
            return web.json_response({"message": "HMAC signature does not match"}, status=401)
        if abs(parsedate_to_datetime(date).timestamp() - time.time()) > self.max_skew_s:
            return web.json_response(
                {"message": "HMAC signature cannot be verified, a valid date is required"}, status=403
            )
        return None

    async def _default_answer(self, ws: web.WebSocketResponse, request: dict[str, Any]) -> None:
        """Hello there!, or a call of the first function offered."""
        functions = ((request.get("payload") or {}).get("functions") or {}).get("text") or []
        if functions:
            call = {"name": functions[0]["name"], "arguments": '{"q": "x"}'}
            frames = [answer_frame(status=2, function_call=call, usage=usage_text())]
        else:
            frames = [
                answer_frame("Hello", status=0, seq=0),
                answer_frame(" there!", status=1, seq=1),
                answer_frame("", status=2, seq=2, usage=usage_text()),
            ]
        for frame in frames:
            await ws.send_str(orjson.dumps(frame).decode())


async def _missing_app_id(ws: web.WebSocketResponse, request: dict[str, Any]) -> None:
    await ws.send_str(orjson.dumps(error_frame(10163, "header.app_id is required")).decode())


def wire_text(recorded: Recorded) -> str:
    """Where the credentials show: the headers (HTTP's bearer), and the signed URL's decoded authorization."""
    authorization = recorded.query.get("authorization")
    decoded = base64.b64decode(authorization).decode() if authorization else ""
    return " ".join([*recorded.headers.values(), decoded])
