"""MiniMax's native API: `chatcompletion_v2` (OpenAI's chat shape, so the openai protocol's functions build and read
it) and `embeddings` (its own shape: `texts`, `type` db|query, `vectors`, GroupId in the query string).

Errors usually arrive with HTTP 200, as `base_resp: {status_code, status_msg}` with a nonzero code, in a plain
answer and in any stream event alike (platform.minimax.io api-reference text-post and errorcode, 2026). A stream
ends with the whole message repeated as one `chat.completion` object, carrying the usage: only its usage is read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson
from msgspec.structs import replace

from modelyard.errors import ContentFilteredError, CredentialsNotConfiguredError, UnsupportedFeatureError, UpstreamError
from modelyard.protocols.base import JSON_HEADERS, ChatStreamParser, Target, UpstreamRequest, WireProtocol
from modelyard.protocols.errors import Where, error_for_status, redact, where_reported
from modelyard.protocols.openai import OpenAIQuirks
from modelyard.protocols.openai import requests as openai_requests
from modelyard.protocols.openai import responses as openai_responses
from modelyard.protocols.openai.responses import FINISH_REASONS, parse_usage, reading
from modelyard.protocols.openai.stream import OpenAIChatStream
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import ChatChunk, ChatRequest, ChatResult, EmbeddingRequest, EmbeddingResult, Usage

# base_resp.status_code -> the HTTP status it amounts to (vendor error-code page; providers-b §4.4).
_STATUS_BY_CODE: Mapping[int, int] = {
    1000: 500,  # unknown error, retry later
    1001: 408,  # request timeout
    1002: 429,  # rate limit
    1004: 401,  # not authorized / token does not match the group
    1008: 402,  # insufficient balance
    1013: 500,  # internal error
    1024: 500,  # internal error
    1033: 500,  # system error
    1039: 429,  # token (TPM) limit
    2013: 400,  # invalid parameters
    2049: 401,  # invalid api key
}
_CONTENT_FILTER = frozenset({1026, 1027})  # sensitive input / output
_CODE_IN_MESSAGE = re.compile(r"\((\d{4})\)")  # newer gateways: "insufficient balance (1008)"


class MiniMax(WireProtocol):
    """chatcompletion_v2 and embeddings; the provider file's `quirks:` are OpenAIQuirks (max_tokens_field ...)."""

    name = "minimax"
    quirks_model = OpenAIQuirks

    def carried_parameters(self, target: Target) -> frozenset[str]:
        return openai_requests.carried_parameters(target)

    def build_chat(self, target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
        if request.tool_choice not in (None, "auto", "none"):
            raise UnsupportedFeatureError("MiniMax takes tool_choice 'auto' or 'none' only", field="tool_choice")
        upstream = openai_requests.build_chat(target, request, stream=stream)
        return replace(upstream, url=f"{target.base_url}/v1/text/chatcompletion_v2")

    def parse_chat(self, target: Target, body: bytes) -> ChatResult:
        with reading(target, "chat"):
            _raise_for_base_resp(target, orjson.loads(body))
        return openai_responses.parse_chat(target, body)

    def chat_stream_parser(self, target: Target) -> ChatStreamParser:
        return _MiniMaxChatStream(target)

    def build_embeddings(self, target: Target, request: EmbeddingRequest) -> UpstreamRequest:
        group_id = target.credentials.get("group_id")
        if not group_id:
            raise CredentialsNotConfiguredError(f"[{target.provider.id}] embeddings need the GroupId credential")
        body = {
            "model": target.upstream_model,
            "texts": list(request.texts),
            "type": "query" if request.input_type == "query" else "db",  # db: documents to be stored
        }
        url = f"{target.base_url}/v1/embeddings?GroupId={quote(group_id, safe='')}"
        return UpstreamRequest("POST", url, JSON_HEADERS, orjson.dumps(body))

    def parse_embeddings(self, target: Target, body: bytes) -> EmbeddingResult:
        with reading(target, "embeddings"):
            data = orjson.loads(body)
            _raise_for_base_resp(target, data)
            tokens = int(data.get("total_tokens") or 0)
            return EmbeddingResult(
                model=target.model.id,
                vectors=tuple(list(vector) for vector in data["vectors"]),
                usage=Usage(prompt_tokens=tokens) if tokens else parse_usage(None),
            )

    def parse_error(self, target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        try:
            data = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            data = {}
        if isinstance(data, dict):
            base = data.get("base_resp")
            if isinstance(base, Mapping) and base.get("status_code"):
                return _error(target, int(base["status_code"]), str(base.get("status_msg") or ""), status, headers)
            error = data.get("error")
            if isinstance(error, Mapping):
                found = _CODE_IN_MESSAGE.search(str(error.get("message") or ""))
                if found:
                    return _error(target, int(found[1]), str(error.get("message")), status, headers)
        return openai_responses.parse_error(target, status, headers, body)


class _MiniMaxChatStream(ChatStreamParser):
    """OpenAI's chunk reader, plus MiniMax's base_resp check and its closing repeat of the whole message."""

    __slots__ = ("_inner", "_target", "finished")

    def __init__(self, target: Target) -> None:
        self._target = target
        self._inner = OpenAIChatStream(target)
        self.finished = False

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        if event.data and event.data != b"[DONE]":
            with reading(self._target, "chat stream"):
                data: dict[str, Any] = orjson.loads(event.data)
                _raise_for_base_resp(self._target, data, in_stream=True)
                if data.get("object") == "chat.completion":  # the repeat: its text and calls were streamed already
                    choices = data.get("choices") or [{}]
                    finish = choices[0].get("finish_reason")
                    usage = parse_usage(data.get("usage")) if data.get("usage") else None
                    return ChatChunk(finish_reason=FINISH_REASONS.get(finish) if finish else None, usage=usage)
        chunk = self._inner.feed(event)
        self.finished = self._inner.finished
        if chunk is not None and chunk.usage is not None and chunk.usage.total_tokens == 0:
            chunk = replace(chunk, usage=None)  # some chunks carry usage with zeros; the real one comes last
        return chunk


def _raise_for_base_resp(target: Target, data: Any, *, in_stream: bool = False) -> None:
    base = data.get("base_resp") if isinstance(data, dict) else None
    if isinstance(base, Mapping) and base.get("status_code"):
        where = where_reported(200, in_stream=in_stream)
        raise _error(target, int(base["status_code"]), str(base.get("status_msg") or ""), 200, {}, where=where)


def _error(
    target: Target, code: int, message: str, status: int, headers: Mapping[str, str], *, where: Where = "status"
) -> UpstreamError:
    secrets = [value for key, value in target.credentials.items() if key in target.provider.secret_variables()]
    message = redact(message, secrets)
    if code in _CONTENT_FILTER:
        return ContentFilteredError(
            f"blocked by the provider's content filter: {message} ({code})",
            provider=target.provider.id,
            status_code=status,
            vendor_code=str(code),
        )
    mapped = _STATUS_BY_CODE.get(code)
    if mapped is None:
        mapped = status if status != 200 else (400 if 2000 <= code < 3000 else 502)
    return error_for_status(
        provider=target.provider.id, status=mapped, message=message, code=str(code), headers=headers, where=where
    )
