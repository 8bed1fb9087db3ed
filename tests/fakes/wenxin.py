"""A Baidu Wenxin / Qianfan upstream on 127.0.0.1: the OAuth token endpoint, the legacy per-model workshop
paths (chat, embeddings, reranker), and the v2 OpenAI-shaped routes under /v2.

The legacy routes check that the call carries an access token this fake issued, and answer as Baidu does:
errors as `{"error_code", "error_msg"}` inside HTTP 200, streams as `data:` events ending with `is_end`, and a
stream's error as a bare JSON line. Shapes as the qianfan SDK 0.4.12.3 reads them. With nothing queued each
route answers a plausible default; queue replies (the FakeOpenAI scripting methods) to script a test.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.openai import FakeOpenAI, Recorded

LEGACY_PREFIX = "/rpc/2.0/ai_custom/v1/wenxinworkshop"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def usage(prompt: int = 9, completion: int = 3) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def chat_answer(
    result: str = "Hello!", *, finish_reason: str = "normal", function_call: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "as-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "result": result,
        "is_truncated": False,
        "need_clear_history": False,
        "finish_reason": finish_reason,
        "usage": usage(),
    }
    if function_call is not None:
        body["function_call"] = function_call
    return body


def stream_events(*pieces: str, finish_reason: str = "normal", function_call: dict[str, Any] | None = None) -> bytes:
    """`data: {...}` events, one per piece, the last with `is_end`, the finish reason and usage; no [DONE]."""
    events = []
    for number, piece in enumerate(pieces):
        last = number == len(pieces) - 1
        event: dict[str, Any] = {
            "id": "as-fake",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "sentence_id": number,
            "is_end": last,
            "is_truncated": False,
            "result": piece,
            "need_clear_history": False,
            "finish_reason": finish_reason if last else "",
            "usage": usage(completion=number + 1),
        }
        if last and function_call is not None:
            event["function_call"] = function_call
        events.append(b"data: " + orjson.dumps(event) + b"\n\n")
    return b"".join(events)


def error(code: int, message: str) -> dict[str, Any]:
    return {"error_code": code, "error_msg": message}


class FakeWenxin(FakeOpenAI):
    """`keys` (API Key -> Secret Key) and `api_keys` (v2 bearer keys), when given, are the only ones accepted."""

    def __init__(self, *, keys: dict[str, str] | None = None, api_keys: set[str] | None = None) -> None:
        super().__init__()
        self.keys = keys
        self.api_keys = api_keys
        self.issued: list[str] = []  # access tokens handed out, in order
        self._serial = itertools.count(1)
        self.app = web.Application(client_max_size=64 * 1024 * 1024)  # Baidu's routes only
        self.app.router.add_post("/oauth/2.0/token", self._token)
        for kind in ("chat", "embeddings", "reranker"):
            self.app.router.add_post(f"{LEGACY_PREFIX}/{kind}/{{endpoint}}", self._legacy(kind))
        self.app.router.add_post("/v2/chat/completions", self._v2(self._handle("chat")))
        self.app.router.add_post("/v2/embeddings", self._v2(self._handle("embeddings")))
        self.app.router.add_post("/v2/rerank", self._v2(self._handle("rerank")))
        self.app.router.add_get("/v2/models", self._v2(self._handle("models")))

    # --- scripting ----------------------------------------------------------------------------------------------

    def fail_code(self, code: int, message: str) -> None:
        """Baidu's way of failing: HTTP 200 with an error code in the body."""
        self.reply_json(error(code, message))

    def revoke(self) -> None:
        """Forget every issued token, as if each had expired (calls then get error 111)."""
        self.issued.clear()

    # --- the token endpoint -------------------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.StreamResponse:
        recorded = await Recorded.of(request)
        self.requests.append(recorded)
        query = recorded.query
        if query.get("grant_type") != "client_credentials":
            return web.json_response(
                {"error": "unsupported_grant_type", "error_description": "grant type not supported"}, status=400
            )
        ak, sk = query.get("client_id", ""), query.get("client_secret", "")
        if not ak or (self.keys is not None and ak not in self.keys):
            return web.json_response({"error": "invalid_client", "error_description": "unknown client id"}, status=401)
        if not sk or (self.keys is not None and self.keys[ak] != sk):
            return web.json_response(
                {"error": "invalid_client", "error_description": "Client authentication failed"}, status=401
            )
        token = f"24.fake{next(self._serial):04d}.2592000.1700000000.282335-00000000"
        self.issued.append(token)
        return web.json_response(
            {
                "refresh_token": "25.fake-refresh",
                "expires_in": 2592000,
                "session_key": "fake-session",
                "access_token": token,
                "scope": "public brain_all_scope wenxinworkshop_mgr",
                "session_secret": "fake-secret",
            }
        )

    # --- legacy routes ------------------------------------------------------------------------------------------

    def _legacy(self, kind: str) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            recorded = await Recorded.of(request)
            self.requests.append(recorded)
            token = recorded.query.get("access_token")
            if not token:
                return web.json_response(error(110, "Access token invalid or no longer valid"))
            if token not in self.issued:
                return web.json_response(error(111, "Access token expired"))
            if self._replies:
                return await self._replies.pop(0)(request, recorded)
            body = recorded.json or {}
            if kind == "chat":
                return self._legacy_chat(body)
            if kind == "embeddings":
                return self._legacy_embeddings(body)
            return self._legacy_rerank(body)

        return handle

    def _legacy_chat(self, body: dict[str, Any]) -> web.StreamResponse:
        messages = body.get("messages") or []
        roles = [m.get("role") for m in messages]
        if any(m.get("role") == "system" for m in messages):
            return web.json_response(error(336003, "message role must be user, assistant or function"))
        if not roles or len(roles) % 2 == 0 or roles[0] != "user":
            return web.json_response(error(336006, "the length of messages must be an odd number"))
        functions = body.get("functions") or []
        call = (
            {"name": functions[0]["name"], "arguments": '{"q": "x"}', "thoughts": "I will call it."}
            if functions
            else None
        )
        if body.get("stream"):
            payload = (
                stream_events("", finish_reason="function_call", function_call=call)
                if call
                else stream_events("Hel", "lo!")
            )
            return web.Response(body=payload, content_type="text/event-stream")
        if call is not None:
            return web.json_response(chat_answer("", finish_reason="function_call", function_call=call))
        return web.json_response(chat_answer())

    def _legacy_embeddings(self, body: dict[str, Any]) -> web.StreamResponse:
        texts = body.get("input") or []
        if not texts or len(texts) > 16:
            return web.json_response(error(336003, "input must hold 1 to 16 texts"))
        data = [
            {"object": "embedding", "embedding": [round(0.1 * (i + 1) + 0.01 * d, 4) for d in range(4)], "index": i}
            for i in range(len(texts))
        ]
        tokens = sum(len(str(text).split()) for text in texts)
        return web.json_response(
            {
                "id": "as-fake",
                "object": "embedding_list",
                "created": 1_700_000_000,
                "data": data,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    def _legacy_rerank(self, body: dict[str, Any]) -> web.StreamResponse:
        documents = body.get("documents") or []
        if not str(body.get("query") or ""):
            return web.json_response(error(336003, "query must not be empty"))
        top_n = body.get("top_n") or len(documents)
        if top_n > len(documents):
            return web.json_response(error(336003, "top_n must not exceed the number of documents"))
        # The last document scores best, so the order must come from the scores, not the input.
        results = [
            {"document": doc, "relevance_score": round((i + 1) / (len(documents) + 1), 4), "index": i}
            for i, doc in enumerate(documents)
        ]
        results.sort(key=lambda r: r["relevance_score"], reverse=True)
        return web.json_response(
            {
                "id": "as-fake",
                "object": "reranker_list",
                "created": 1_700_000_000,
                "results": results[:top_n],
                "usage": {"prompt_tokens": 12, "total_tokens": 12},
            }
        )

    # --- v2 routes ----------------------------------------------------------------------------------------------

    def _v2(self, inner: Handler) -> Handler:
        """The OpenAI-shaped routes, behind Qianfan v2's bearer check."""

        async def handle(request: web.Request) -> web.StreamResponse:
            scheme, _, key = request.headers.get("Authorization", "").partition(" ")
            if scheme != "Bearer" or not key or (self.api_keys is not None and key not in self.api_keys):
                self.requests.append(await Recorded.of(request))
                body = {
                    "error": {
                        "code": "invalid_iam_token",
                        "message": "IAM Certification failed",
                        "type": "invalid_request_error",
                    }
                }
                return web.json_response({**body, "id": "as-fake"}, status=401)
            return await inner(request)

        return handle
