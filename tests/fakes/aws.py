"""Bedrock Runtime and SageMaker Runtime upstreams on 127.0.0.1, checking SigV4 signatures the way AWS does.

Routes: `/model/{modelId}/converse`, `/converse-stream`, `/invoke` (Titan and Cohere embedding bodies), and
`/endpoints/{name}/invocations`, `/invocations-response-stream`. Streams are AWS event streams framed with
`encode_message`, which botocore's own parser reads in the SDK-oracle tests.

Every request's signature is recomputed with botocore's SigV4Auth from what arrived: the raw path as
received, the headers the client said it signed, the body bytes. A mismatch answers 403
InvalidSignatureException, as AWS does, and `Recorded.signature_ok` records the verdict. A bearer token (a Bedrock
API key) is accepted when it is one of `api_keys`. `/rerank` is the Agents for Bedrock runtime's Rerank.

The fake is also a forward proxy for itself: a request in proxy form (`POST http://host/model/...`, what a client
sends to an HTTP proxy) is served like a direct one, and its path is recorded in `proxied`.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.fakes.eventstream import encode_message
from tests.fakes.openai import Recorded, completion, tool_call

EVENTSTREAM = "application/vnd.amazon.eventstream"
Reply = Callable[[web.Request, Recorded], Awaitable[web.StreamResponse]]
Event = tuple[str, Any]  # (:event-type, JSON payload) or, for SageMaker, ("PayloadPart", raw bytes)


@dataclass
class Signature:
    access_key: str
    region: str
    service: str
    signed_headers: list[str]
    ok: bool


def event_message(event_type: str, payload: Any) -> bytes:
    if isinstance(payload, bytes):
        headers = {":event-type": event_type, ":content-type": "application/octet-stream", ":message-type": "event"}
        return encode_message(headers, payload)
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_message(headers, orjson.dumps(payload))


def exception_message(exception_type: str, message: str, **fields: Any) -> bytes:
    headers = {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}
    return encode_message(headers, orjson.dumps({"message": message, **fields}))


def converse_text_events(*pieces: str, stop: str = "end_turn", usage: tuple[int, int] = (9, 3)) -> list[Event]:
    events: list[Event] = [("messageStart", {"role": "assistant"})]
    events += [("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}}) for piece in pieces]
    events += [("contentBlockStop", {"contentBlockIndex": 0}), ("messageStop", {"stopReason": stop})]
    return [*events, metadata_event(*usage)]


def converse_tool_events(
    name: str, fragments: Sequence[str], *, tool_use_id: str = "tooluse_1", index: int = 0
) -> list[Event]:
    start = {"contentBlockIndex": index, "start": {"toolUse": {"toolUseId": tool_use_id, "name": name}}}
    deltas: list[Event] = [
        ("contentBlockDelta", {"contentBlockIndex": index, "delta": {"toolUse": {"input": fragment}}})
        for fragment in fragments
    ]
    return [("contentBlockStart", start), *deltas, ("contentBlockStop", {"contentBlockIndex": index})]


def metadata_event(prompt: int, completion_tokens: int) -> Event:
    usage = {"inputTokens": prompt, "outputTokens": completion_tokens, "totalTokens": prompt + completion_tokens}
    return ("metadata", {"usage": usage, "metrics": {"latencyMs": 42}})


def converse_answer(
    content: Sequence[dict[str, Any]] = ({"text": "Hello!"},),
    *,
    stop: str = "end_turn",
    usage: tuple[int, int] = (9, 3),
) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": list(content)}},
        "stopReason": stop,
        "usage": {"inputTokens": usage[0], "outputTokens": usage[1], "totalTokens": sum(usage)},
        "metrics": {"latencyMs": 42},
    }


def vector(index: int, size: int = 4) -> list[float]:
    return [round(0.1 * (index + 1) + 0.01 * d, 4) for d in range(size)]


class FakeAWS:
    """Queue replies (`reply_json`, `fail`, `stream_events`, `stream_bytes`), run the code, read `requests`."""

    def __init__(self, keys: dict[str, str] | None = None, api_keys: frozenset[str] = frozenset()) -> None:
        self.keys = {"AKIDEXAMPLE": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", **(keys or {})}  # access key -> secret
        self.api_keys = api_keys  # Bedrock API keys taken as bearer tokens
        self.requests: list[Recorded] = []
        self.signatures: list[Signature] = []
        self.proxied: list[str] = []  # paths of requests that arrived in proxy form
        self._replies: list[Reply] = []
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.router.add_post("/model/{model_id}/converse", self._handle("converse"))
        self.app.router.add_post("/model/{model_id}/converse-stream", self._handle("converse_stream"))
        self.app.router.add_post("/model/{model_id}/invoke", self._handle("invoke"))
        self.app.router.add_post("/rerank", self._handle("rerank"))
        self.app.router.add_post("/endpoints/{endpoint}/invocations", self._handle("invocations"))
        self.app.router.add_post(
            "/endpoints/{endpoint}/invocations-response-stream", self._handle("invocations_stream")
        )
        self.url = ""

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

    def fail(self, status: int, code: str, message: str, **fields: Any) -> None:
        """An AWS rest-json error: the code in `x-amzn-ErrorType`, the message in the body."""
        headers = {
            "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/",
            "x-amzn-RequestId": "req-1",
        }
        self.reply_json({"message": message, **fields}, status=status, headers=headers)

    def stream_events(
        self, events: Iterable[Event], *, exception: tuple[str, str] | None = None, piece_size: int | None = None
    ) -> None:
        """An event stream of (event type, payload) messages, optionally ending with an exception message."""
        body = b"".join(event_message(kind, payload) for kind, payload in events)
        if exception is not None:
            body += exception_message(*exception)
        self.stream_bytes(body, piece_size=piece_size)

    def stream_bytes(
        self, body: bytes, *, piece_size: int | None = None, headers: dict[str, str] | None = None
    ) -> None:
        async def reply(request: web.Request, recorded: Recorded) -> web.StreamResponse:
            return await _stream(request, body, piece_size, headers)

        self._replies.append(reply)

    # --- serving ------------------------------------------------------------------------------------------------

    def _handle(self, kind: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            recorded = await Recorded.of(request)
            self.requests.append(recorded)
            if request.raw_path.startswith(("http://", "https://")):
                self.proxied.append(request.path)
            refusal = self._check_signature(request, recorded)
            if refusal is not None:
                return refusal
            if self._replies:
                return await self._replies.pop(0)(request, recorded)
            return await getattr(self, f"_default_{kind}")(request, recorded)

        return handle

    def _check_signature(self, request: web.Request, recorded: Recorded) -> web.StreamResponse | None:
        authorization = recorded.headers.get("authorization", "")
        if authorization.startswith("Bearer "):
            if authorization.removeprefix("Bearer ") in self.api_keys:
                return None
            return _aws_error(
                403, "UnrecognizedClientException", "The security token included in the request is invalid."
            )
        fields = dict(
            part.strip().split("=", 1)
            for part in authorization.removeprefix("AWS4-HMAC-SHA256 ").split(",")
            if "=" in part
        )
        try:
            access_key, day, region, service, _ = fields["Credential"].split("/")
            signed_headers = fields["SignedHeaders"].split(";")
        except (KeyError, ValueError):
            return _aws_error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        secret = self.keys.get(access_key)
        if secret is None:
            return _aws_error(
                403, "UnrecognizedClientException", "The security token included in the request is invalid."
            )
        # Exactly what arrived: the raw path (never re-quoted), the signed headers' values, the body bytes.
        path = request.raw_path if request.raw_path.startswith("/") else request.raw_path.split("/", 3)[3:][0]
        aws_request = AWSRequest(
            method=request.method,
            url=f"http://{request.host}/{path.lstrip('/')}",
            headers={name: request.headers.get(name, "") for name in signed_headers},
            data=recorded.body,
        )
        aws_request.context["timestamp"] = recorded.headers.get("x-amz-date", "")
        signer = SigV4Auth(
            Credentials(access_key, secret, recorded.headers.get("x-amz-security-token")), service, region
        )
        expected = signer.signature(
            signer.string_to_sign(aws_request, signer.canonical_request(aws_request)), aws_request
        )
        ok = expected == fields.get("Signature") and day == aws_request.context["timestamp"][:8]
        self.signatures.append(Signature(access_key, region, service, signed_headers, ok))
        if not ok:
            return _aws_error(
                403,
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided.",
            )
        return None

    async def _default_converse(self, request: web.Request, recorded: Recorded) -> web.StreamResponse:
        body = recorded.json or {}
        tools = (body.get("toolConfig") or {}).get("tools") or []
        if tools:
            use = {"toolUseId": "tooluse_1", "name": tools[0]["toolSpec"]["name"], "input": {"q": "x"}}
            return web.json_response(converse_answer([{"toolUse": use}], stop="tool_use"))
        return web.json_response(converse_answer())

    async def _default_converse_stream(self, request: web.Request, recorded: Recorded) -> web.StreamResponse:
        body = recorded.json or {}
        tools = (body.get("toolConfig") or {}).get("tools") or []
        if tools:
            events = [
                ("messageStart", {"role": "assistant"}),
                *converse_tool_events(tools[0]["toolSpec"]["name"], ['{"q": ', '"x"}']),
                ("messageStop", {"stopReason": "tool_use"}),
                metadata_event(9, 3),
            ]
        else:
            events = converse_text_events("Hel", "lo!")
        return await _stream(request, b"".join(event_message(k, p) for k, p in events), None, None)

    async def _default_invoke(self, request: web.Request, recorded: Recorded) -> web.StreamResponse:
        model_id = request.match_info["model_id"]
        body = recorded.json or {}
        if "titan-embed" in model_id or "inputText" in body:  # a Titan body (a custom model's profile names no family)
            size = int(body.get("dimensions") or 4)
            tokens = len(str(body.get("inputText", "")).split())
            return web.json_response({"embedding": vector(0, size), "inputTextTokenCount": tokens})
        texts = body.get("texts", [])
        size = int(body.get("output_dimension") or 4)
        vectors = [vector(i, size) for i in range(len(texts))]
        if body.get("embedding_types"):
            embeddings: Any = {"float": vectors}
            response_type = "embeddings_by_type"
        else:
            embeddings, response_type = vectors, "embeddings_floats"
        return web.json_response(
            {"id": "emb-1", "embeddings": embeddings, "response_type": response_type, "texts": texts}
        )

    async def _default_rerank(self, request: web.Request, recorded: Recorded) -> web.StreamResponse:
        body = recorded.json or {}
        sources = body.get("sources") or []
        wanted = body["rerankingConfiguration"]["bedrockRerankingConfiguration"].get("numberOfResults") or len(sources)
        results = [{"index": i, "relevanceScore": round(1.0 / (1 + i), 4)} for i in range(len(sources))]
        return web.json_response({"results": results[:wanted]})

    async def _default_invocations(self, request: web.Request, recorded: Recorded) -> web.StreamResponse:
        body = recorded.json or {}
        if "messages" in body:
            tools = body.get("tools") or []
            if tools:
                call = tool_call("call_1", tools[0]["function"]["name"], '{"q": "x"}')
                return web.json_response(completion(None, tool_calls=[call], finish_reason="tool_calls"))
            return web.json_response(completion())
        if isinstance(body.get("inputs"), str):  # TGI
            return web.json_response(
                [{"generated_text": "Hello!", "details": {"finish_reason": "eos_token", "generated_tokens": 3}}]
            )
        if "input" in body:  # OpenAI-style embeddings
            data = [{"object": "embedding", "index": i, "embedding": vector(i)} for i in range(len(body["input"]))]
            return web.json_response(
                {"object": "list", "data": data, "model": "e", "usage": {"prompt_tokens": 2, "total_tokens": 2}}
            )
        if "inputs" in body:  # TEI embeddings
            return web.json_response([vector(i) for i in range(len(body["inputs"]))])
        documents = body.get("documents") or body.get("texts") or []
        ranked = sorted(range(len(documents)), key=lambda i: -1.0 / (1 + i))
        if "texts" in body:  # TEI rerank
            return web.json_response([{"index": i, "score": round(1.0 / (1 + i), 4)} for i in ranked])
        results = [{"index": i, "relevance_score": round(1.0 / (1 + i), 4)} for i in ranked]
        return web.json_response({"id": "rr-1", "results": results})

    async def _default_invocations_stream(self, request: web.Request, recorded: Recorded) -> web.StreamResponse:
        body = recorded.json or {}
        if "messages" in body:
            lines = (
                b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":'
                b'[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}\n\n'
                b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":'
                b'[{"index":0,"delta":{"content":"lo!"},"finish_reason":"stop"}]}\n\n'
                b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],'
                b'"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}\n\n'
                b"data: [DONE]\n\n"
            )
        else:
            lines = (
                b'data:{"token":{"id":1,"text":"Hel","logprob":-0.1,"special":false},"generated_text":null,"details":null}\n\n'
                b'data:{"token":{"id":2,"text":"lo!","logprob":-0.1,"special":false},"generated_text":"Hello!",'
                b'"details":{"finish_reason":"eos_token","generated_tokens":2,"input_length":5}}\n\n'
            )
        return await _stream(
            request, payload_parts(lines, 17), None, {"X-Amzn-SageMaker-Content-Type": "text/event-stream"}
        )


def payload_parts(raw: bytes, size: int) -> bytes:
    """The container's bytes cut into PayloadPart events at arbitrary points, as SageMaker relays them."""
    return b"".join(event_message("PayloadPart", raw[i : i + size]) for i in range(0, len(raw), size))


async def _stream(
    request: web.Request, body: bytes, piece_size: int | None, headers: dict[str, str] | None
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": EVENTSTREAM, **(headers or {})})
    await response.prepare(request)
    size = piece_size or len(body) or 1
    for start in range(0, len(body), size):
        await response.write(body[start : start + size])
        if piece_size:
            await asyncio.sleep(0)
    await response.write_eof()
    return response


def _aws_error(status: int, code: str, message: str) -> web.Response:
    headers = {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.coral.service/"}
    return web.Response(
        body=orjson.dumps({"message": message}), status=status, headers=headers, content_type="application/json"
    )


class FakeMachineCredentials:
    """This machine's AWS credential endpoints on loopback: the EC2 instance metadata service (IMDSv2, and v1 when
    `v1_only`) and a container credentials endpoint (`/v2/credentials/...`, checking `Authorization` when
    `container_token` is set). Every answer hands out `keys` with `expiration`; `requests` records what came."""

    def __init__(
        self,
        keys: tuple[str, str, str] = ("ASIAMACHINE", "machine-secret", "machine-session-token"),
        *,
        role: str = "modelyard-role",
        expiration: str | None = None,  # default: six hours from now (botocore compares with the real clock)
        container_token: str | None = None,
        v1_only: bool = False,
    ) -> None:
        self.keys = keys
        self.role = role
        later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=6)
        self.expiration = expiration or later.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.container_token = container_token
        self.v1_only = v1_only
        self.session_token = "imds-session-token"
        self.requests: list[Recorded] = []
        self.app = web.Application()
        self.app.router.add_put("/latest/api/token", self._token)
        self.app.router.add_get("/latest/meta-data/iam/security-credentials/", self._role)
        self.app.router.add_get("/latest/meta-data/iam/security-credentials/{role}", self._keys)
        self.app.router.add_get("/v2/credentials/{id}", self._container)
        self.url = ""

    def answer(self) -> dict[str, str]:
        access_key, secret_key, token = self.keys
        return {
            "Code": "Success",
            "Type": "AWS-HMAC",
            "AccessKeyId": access_key,
            "SecretAccessKey": secret_key,
            "Token": token,
            "Expiration": self.expiration,
            "LastUpdated": "2026-11-28T09:30:15Z",
        }

    async def _token(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(await Recorded.of(request))
        if self.v1_only:
            return web.Response(status=404)
        if not request.headers.get("x-aws-ec2-metadata-token-ttl-seconds"):
            return web.Response(status=400)
        return web.Response(text=self.session_token)

    def _refused(self, request: web.Request) -> web.StreamResponse | None:
        if self.v1_only or request.headers.get("x-aws-ec2-metadata-token") == self.session_token:
            return None
        return web.Response(status=401)

    async def _role(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(await Recorded.of(request))
        return self._refused(request) or web.Response(text=self.role)

    async def _keys(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(await Recorded.of(request))
        if request.match_info["role"] != self.role:
            return web.Response(status=404)
        return self._refused(request) or web.Response(text=orjson.dumps(self.answer()).decode())

    async def _container(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(await Recorded.of(request))
        if self.container_token is not None and request.headers.get("Authorization") != self.container_token:
            return web.json_response({"code": "AccessDenied", "message": "bad token"}, status=403)
        return web.json_response(self.answer())
