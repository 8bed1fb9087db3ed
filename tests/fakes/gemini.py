"""A Google generateContent upstream on 127.0.0.1: the Gemini API, Vertex AI, and Google's OAuth2 token endpoint.

Serves `/{version}/models/{model}:{method}` (Gemini API, key in `x-goog-api-key`), the Vertex AI form
`/{version}/projects/{p}/locations/{l}/publishers/google/models/{model}:{method}` (a bearer token this fake issued),
the partner models beside it (`publishers/anthropic/...:rawPredict|streamRawPredict` answering in Anthropic's
shapes, `publishers/mistralai/...` in OpenAI's), and `POST /token`, which checks a service account's signed JWT
assertion the way Google's endpoint does and answers an access token that names the key it verified. It is also a
metadata server (`GET /computeMetadata/v1/instance/service-accounts/default/token`, `Metadata-Flavor: Google`).
With nothing queued, every route answers a plausible default, so SDK round trips need no setup; queue replies to
script a test precisely.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from msgspec.structs import replace

from modelyard.protocols.base import Target
from modelyard.protocols.gemini import GeminiQuirks
from modelyard.runtime.bindings import Binding
from tests.fakes import anthropic as anthropic_fake
from tests.fakes.openai import Recorded, chat_chunk, completion, tool_call
from tests.fakes.openai import sse as openai_sse

Reply = Callable[[web.Request, Recorded], Awaitable[web.StreamResponse]]

# One RSA key for every fake service account of the session: the token endpoint verifies assertions against it.
SERVICE_ACCOUNT_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
SERVICE_ACCOUNT_EMAIL = "modelyard-tests@test-project.iam.gserviceaccount.com"
TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"


def service_account_info(token_uri: str, *, key_id: str = "0123456789abcdef") -> dict[str, str]:
    """A service-account JSON key as Google issues it, signing with SERVICE_ACCOUNT_KEY."""
    pem = SERVICE_ACCOUNT_KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": key_id,
        "private_key": pem,
        "client_email": SERVICE_ACCOUNT_EMAIL,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/modelyard-tests",
        "universe_domain": "googleapis.com",
    }


def decode_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """(header, claims, signing input, signature) of a compact JWT."""
    header, claims, signature = token.split(".")

    def unb64(segment: str) -> bytes:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))

    return orjson.loads(unb64(header)), orjson.loads(unb64(claims)), f"{header}.{claims}".encode(), unb64(signature)


# --- answers -----------------------------------------------------------------------------------------------------


def text_part(text: str, *, thought: bool = False, signature: str | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {"text": text}
    if thought:
        part["thought"] = True
    if signature:
        part["thoughtSignature"] = signature
    return part


def call_part(
    name: str, args: dict[str, Any], *, id: str | None = None, signature: str | None = None
) -> dict[str, Any]:
    call: dict[str, Any] = {"name": name, "args": args}
    if id is not None:
        call["id"] = id
    part: dict[str, Any] = {"functionCall": call}
    if signature:
        part["thoughtSignature"] = signature
    return part


def usage(prompt: int, candidates: int, *, thoughts: int = 0, cached: int = 0) -> dict[str, Any]:
    body: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + candidates + thoughts,
    }
    if thoughts:
        body["thoughtsTokenCount"] = thoughts
    if cached:
        body["cachedContentTokenCount"] = cached
    return body


def answer(
    *parts: dict[str, Any],
    finish: str | None = "STOP",
    tokens: dict[str, Any] | None = None,
    model: str = "gemini-2.5-flash",
) -> dict[str, Any]:
    """A GenerateContentResponse with one candidate; with no parts, `Hello!`."""
    candidate: dict[str, Any] = {
        "content": {"role": "model", "parts": list(parts or [text_part("Hello!")])},
        "index": 0,
    }
    if finish is not None:
        candidate["finishReason"] = finish
    body: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": "resp-fake"}
    if tokens is not None:
        body["usageMetadata"] = tokens
    return body


def blocked(reason: str = "SAFETY") -> dict[str, Any]:
    """A prompt the safety filter refused: HTTP 200, no candidates."""
    return {"promptFeedback": {"blockReason": reason}, "usageMetadata": usage(7, 0), "modelVersion": "gemini-2.5-flash"}


def status_error(
    code: int, status: str, message: str, *, reason: str | None = None, retry_delay: str | None = None
) -> dict[str, Any]:
    """A google.rpc.Status error body."""
    details: list[dict[str, Any]] = []
    if reason is not None:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        )
    if retry_delay is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay})
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return {"error": error}


def sse(*payloads: Any) -> bytes:
    """`alt=sse` bytes: `data:` events separated by CRLF CRLF as Google sends them, no terminator."""
    return b"".join(b"data: " + (p if isinstance(p, bytes) else orjson.dumps(p)) + b"\r\n\r\n" for p in payloads)


class FakeGoogle:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.token_requests: list[Recorded] = []
        self.issued: dict[str, str] = {}  # access token -> the key id that earned it
        self.api_key: str | None = None  # set to refuse every other key with 400 API_KEY_INVALID
        self._replies: list[Reply] = []
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.router.add_post("/token", self._token)
        self.app.router.add_get("/{version}/models", self._handle("models", vertex=False))
        self.app.router.add_post("/{version}/models/{call}", self._handle("call", vertex=False))
        vertex = "/{version}/projects/{project}/locations/{location}/publishers/google/models/{call}"
        self.app.router.add_post(vertex, self._handle("call", vertex=True))
        partner = "/{version}/projects/{project}/locations/{location}/publishers/{publisher}/models/{call}"
        self.app.router.add_post(partner, self._handle("partner", vertex=True))
        self.app.router.add_get("/computeMetadata/v1/instance/service-accounts/default/token", self._metadata_token)
        self.url = ""  # set once the server listens
        self.disconnects = 0

    # --- scripting ----------------------------------------------------------------------------------------------

    def reply_json(self, body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> None:
        async def reply(request: web.Request, recorded: Recorded) -> web.StreamResponse:
            return web.Response(
                body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
            )

        self._replies.append(reply)

    def fail(
        self, code: int, status: str, message: str, *, headers: dict[str, str] | None = None, **detail: Any
    ) -> None:
        self.reply_json(status_error(code, status, message, **detail), status=code, headers=headers)

    def stream(self, body: bytes, *, piece_size: int | None = None, drop_after: int | None = None) -> None:
        """Stream `body` in pieces: tiny pieces test decoders, a drop tests broken streams."""

        async def reply(request: web.Request, recorded: Recorded) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            size = piece_size or len(body) or 1
            try:
                for number, start in enumerate(range(0, len(body), size)):
                    if drop_after is not None and number == drop_after:
                        assert request.transport is not None
                        request.transport.close()
                        return response
                    await response.write(body[start : start + size])
                await response.write_eof()
            except (ConnectionError, asyncio.CancelledError):
                self.disconnects += 1
                raise
            return response

        self._replies.append(reply)

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    # --- serving ------------------------------------------------------------------------------------------------

    def _handle(self, kind: str, *, vertex: bool) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            recorded = await Recorded.of(request)
            self.requests.append(recorded)
            refusal = self._refusal(recorded, vertex=vertex)
            if refusal is None and vertex and kind == "call" and request.match_info["version"] == "v1":
                refusal = _unknown_v1_field(recorded)
            if refusal is not None:
                return refusal
            if self._replies:
                return await self._replies.pop(0)(request, recorded)
            if kind == "models":
                return web.json_response({"models": [_listed(m) for m in ("gemini-2.5-flash", "gemini-embedding-001")]})
            if kind == "partner":
                return await self._partner(request, recorded)
            model, _, method = request.match_info["call"].partition(":")
            default = getattr(self, f"_default_{method}", None)
            if default is None:
                return web.json_response(status_error(404, "NOT_FOUND", f"no method {method}"), status=404)
            return await default(request, model, recorded)

        return handle

    def _refusal(self, recorded: Recorded, *, vertex: bool) -> web.Response | None:
        if vertex:
            token = recorded.headers.get("authorization", "").removeprefix("Bearer ")
            if token in self.issued:
                return None
            error = status_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
            return web.json_response(error, status=401)
        key = recorded.headers.get("x-goog-api-key")
        if key and (self.api_key is None or key == self.api_key):
            return None
        error = status_error(
            400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", reason="API_KEY_INVALID"
        )
        return web.json_response(error, status=400)

    async def _token(self, request: web.Request) -> web.Response:
        recorded = await Recorded.of(request)
        self.token_requests.append(recorded)
        form = dict(await request.post())
        try:
            header, claims, signed, signature = decode_jwt(str(form["assertion"]))
            SERVICE_ACCOUNT_KEY.public_key().verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        except Exception:  # any unreadable or forged assertion: what Google answers
            return web.json_response(
                {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, status=400
            )
        now = time.time()
        valid = (
            form.get("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer"
            and header.get("alg") == "RS256"
            and claims.get("aud") == TOKEN_AUDIENCE
            and claims.get("iss") == SERVICE_ACCOUNT_EMAIL
            and claims.get("scope")
            and claims["iat"] - 300 <= now <= claims["exp"]
            and claims["exp"] - claims["iat"] <= 3600
        )
        if not valid:
            return web.json_response({"error": "invalid_grant", "error_description": "Invalid JWT."}, status=400)
        token = f"ya29.fake-{header.get('kid')}-{len(self.issued) + 1}"
        self.issued[token] = str(header.get("kid"))
        return web.json_response({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    async def _metadata_token(self, request: web.Request) -> web.Response:
        recorded = await Recorded.of(request)
        self.token_requests.append(recorded)
        if request.headers.get("Metadata-Flavor") != "Google":
            return web.Response(status=403, text="Missing Metadata-Flavor:Google header.")
        token = f"ya29.fake-metadata-{len(self.issued) + 1}"
        self.issued[token] = "metadata"
        return web.json_response({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    async def _partner(self, request: web.Request, recorded: Recorded) -> web.StreamResponse:
        """Claude answers as Anthropic's API does, Mistral as an OpenAI-shaped server: Hello!, or a tool call."""
        publisher = request.match_info["publisher"]
        model, _, method = request.match_info["call"].partition(":")
        if method not in ("rawPredict", "streamRawPredict"):
            return web.json_response(status_error(404, "NOT_FOUND", f"no method {method}"), status=404)
        body = recorded.json or {}
        tools = body.get("tools") or []
        if publisher == "anthropic":
            name = tools[0]["name"] if tools else None
            content = (
                [anthropic_fake.tool_use("toolu_01", name, {"q": "x"})] if name else [anthropic_fake.text("Hello!")]
            )
            stop = "tool_use" if name else "end_turn"
            if method == "streamRawPredict":
                events = anthropic_fake.stream_events(content, stop_reason=stop, model=model)
                return web.Response(body=anthropic_fake.sse(*events), content_type="text/event-stream")
            return web.json_response(anthropic_fake.message(content, stop_reason=stop, model=model))
        if publisher == "mistralai":
            name = tools[0]["function"]["name"] if tools else None
            if method == "streamRawPredict":
                chunks = [chat_chunk({"role": "assistant", "content": "Hel"}), chat_chunk({"content": "lo!"}, "stop")]
                if name:
                    call = {"index": 0, **tool_call("call_1", name, '{"q": "x"}')}
                    chunks = [chat_chunk({"role": "assistant", "tool_calls": [call]}, "tool_calls")]
                usage = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
                chunks[-1]["usage"] = usage  # Mistral puts usage in its last chunk, asked or not
                return web.Response(body=openai_sse(*chunks), content_type="text/event-stream")
            if name:
                call = tool_call("call_1", name, '{"q": "x"}')
                return web.json_response(completion(None, tool_calls=[call], finish_reason="tool_calls", model=model))
            return web.json_response(completion(model=model))
        return web.json_response(status_error(404, "NOT_FOUND", f"no publisher {publisher}"), status=404)

    async def _default_generateContent(self, request: web.Request, model: str, recorded: Recorded) -> web.Response:
        """Hello!, or a call of the first function offered."""
        call = _first_function_call(recorded)
        return web.json_response(answer(*([call] if call else []), tokens=usage(9, 3), model=model))

    async def _default_streamGenerateContent(
        self, request: web.Request, model: str, recorded: Recorded
    ) -> web.StreamResponse:
        call = _first_function_call(recorded)
        if call is not None:
            events = [answer(call, finish="STOP", tokens=usage(9, 3), model=model)]
        else:
            events = [
                answer(text_part("Hel"), finish=None, tokens=usage(9, 1), model=model),
                answer(text_part("lo!"), finish="STOP", tokens=usage(9, 3), model=model),
            ]
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(sse(*events))
        await response.write_eof()
        return response

    async def _default_batchEmbedContents(self, request: web.Request, model: str, recorded: Recorded) -> web.Response:
        items = (recorded.json or {}).get("requests", [])
        embeddings = []
        for index, item in enumerate(items):
            options = item.get("embedContentConfig", item)  # Vertex nests the options
            embeddings.append({"values": _vector(index, options.get("outputDimensionality"))})
        return web.json_response({"embeddings": embeddings})

    async def _default_embedContent(self, request: web.Request, model: str, recorded: Recorded) -> web.Response:
        options = (recorded.json or {}).get("embedContentConfig") or recorded.json or {}
        body = {"embedding": {"values": _vector(0, options.get("outputDimensionality"))}, "usageMetadata": usage(2, 0)}
        return web.json_response(body)

    async def _default_predict(self, request: web.Request, model: str, recorded: Recorded) -> web.Response:
        body = recorded.json or {}
        size = (body.get("parameters") or {}).get("outputDimensionality")
        predictions = [
            {
                "embeddings": {
                    "values": _vector(index, size),
                    "statistics": {"token_count": len(str(instance.get("content", "")).split()), "truncated": False},
                }
            }
            for index, instance in enumerate(body.get("instances", []))
        ]
        return web.json_response({"predictions": predictions, "metadata": {"billableCharacterCount": 12}})


def _unknown_v1_field(recorded: Recorded) -> web.Response | None:
    """Vertex v1 refuses `id` in functionCall / functionResponse: its protos have no such field (v1beta1 has)."""
    for turn, content in enumerate((recorded.json or {}).get("contents", [])):
        for index, part in enumerate(content.get("parts", [])):
            for key, field in (("functionCall", "function_call"), ("functionResponse", "function_response")):
                if "id" in part.get(key, {}):
                    where = f"contents[{turn}].parts[{index}].{field}"
                    message = f"Invalid JSON payload received. Unknown name \"id\" at '{where}': Cannot find field."
                    return web.json_response(status_error(400, "INVALID_ARGUMENT", message), status=400)
    return None


def _first_function_call(recorded: Recorded) -> dict[str, Any] | None:
    declarations = [d for tool in (recorded.json or {}).get("tools", []) for d in tool.get("functionDeclarations", [])]
    return call_part(declarations[0]["name"], {"q": "x"}, id="fc-1") if declarations else None


def _vector(index: int, size: int | None) -> list[float]:
    return [round(0.1 * (index + 1) + 0.01 * d, 4) for d in range(size or 4)]


def _listed(model: str) -> dict[str, Any]:
    methods = ["embedContent", "batchEmbedContents"] if "embedding" in model else ["generateContent", "countTokens"]
    return {
        "name": f"models/{model}",
        "version": "001",
        "displayName": model,
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": methods,
    }


def tool_turn(calls: Sequence[dict[str, Any]], *, tokens: dict[str, Any] | None = None) -> dict[str, Any]:
    """A model turn that calls functions (it still ends with STOP)."""
    return answer(*calls, tokens=tokens or usage(20, 8))


# --- the catalog round trip (tests/fakes/registry.py) ------------------------------------------------------------


def google_base_url(binding: Binding, url: str) -> str:
    if isinstance(binding.quirks, GeminiQuirks) and binding.quirks.url_style == "vertex":
        return f"{url}/v1/projects/test-project/locations/us-central1/publishers/google"
    return f"{url}/v1beta"


def with_service_account(target: Target) -> Target:
    """For Vertex, the catalog test's SECRET becomes the key id of a real service-account key aimed at this fake.

    The token the fake issues names the key id, so the round trip still sees the credential reach the wire:
    through the signed assertion, the token exchange and the bearer token.
    """
    if target.provider.signing.get("scheme") != "google_oauth":
        return target
    secret = next(v for k, v in target.credentials.items() if k in target.provider.secret_variables())
    root = target.base_url.split("/v1/", 1)[0]
    key = orjson.dumps(service_account_info(f"{root}/token", key_id=secret)).decode()
    variable = str(target.provider.signing["credential"])
    return replace(target, credentials={**target.credentials, variable: key})
