"""Amazon SageMaker Runtime (providers-a §6): InvokeEndpoint and InvokeEndpointWithResponseStream.

The body is whatever the endpoint's serving container speaks, so a custom model names its container's shape
in the `payload_format` model credential (facts are thin; these are choices, stated):

* `openai` (default): the OpenAI-compatible surface that LMI (DJL), vLLM, SGLang and TGI's Messages API serve
  on `/invocations`: chat `{"messages", ...}` without `model` (vLLM refuses a name it does not serve),
  embeddings `{"input"}`, rerank `{"query", "documents"}` (vLLM's and Jina/Cohere's shape).
* `huggingface`: the Hugging Face containers' native shapes: TGI `{"inputs", "parameters", "stream"}` with a
  plain-text transcript as the prompt (use `openai` for the model's own chat template), TEI `{"inputs"}` for
  embeddings and `{"query", "texts"}` for rerank.

Answers are read by their shape whatever the format, since containers differ within one family. Streams come
as `PayloadPart` events whose payload is the container's raw bytes (SSE `data:` lines or JSON lines) split at
arbitrary points; the parser re-joins them into lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import orjson
from msgspec.structs import replace

from modelyard.errors import UnsupportedFeatureError, UpstreamError, UpstreamProtocolError
from modelyard.protocols import aws
from modelyard.protocols.aws import AWSQuirks, endpoint, path_segment
from modelyard.protocols.base import ChatStreamParser, Target, UpstreamRequest, WireProtocol
from modelyard.protocols.openai import OpenAIQuirks
from modelyard.protocols.openai import requests as openai_requests
from modelyard.protocols.openai import responses as openai_responses
from modelyard.protocols.openai.responses import reading
from modelyard.protocols.openai.stream import OpenAIChatStream
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import (
    ChatChunk,
    ChatRequest,
    ChatResult,
    EmbeddingRequest,
    EmbeddingResult,
    RerankHit,
    RerankRequest,
    RerankResult,
    TextPart,
    Usage,
)
from modelyard.types.chat import FinishReason
from modelyard.types.usage import UNREPORTED

PayloadFormat = Literal["openai", "huggingface"]
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
STREAM_HEADERS = {"Content-Type": "application/json"}
# TGI's finish reasons (and LMI's, which copies them) to OpenAI's.
TGI_FINISH_REASONS: Mapping[str, FinishReason] = {"length": "length", "eos_token": "stop", "stop_sequence": "stop"}
# How the `openai` format talks to the container: `max_tokens` (not every server knows max_completion_tokens),
# and usage asked for at the end of a stream.
_OPENAI_SHAPE = OpenAIQuirks(max_tokens_field="max_tokens")


class SageMakerQuirks(AWSQuirks):
    format_credential: str = "payload_format"  # the model credential naming the container's payload shape


def payload_format(target: Target) -> PayloadFormat:
    quirks = target.quirks if isinstance(target.quirks, SageMakerQuirks) else SageMakerQuirks()
    return "huggingface" if target.credentials.get(quirks.format_credential) == "huggingface" else "openai"


def invocation(target: Target, body: Any, *, stream: bool = False) -> UpstreamRequest:
    action = "invocations-response-stream" if stream else "invocations"
    url = f"{endpoint(target)}/endpoints/{path_segment(target.upstream_model)}/{action}"
    return UpstreamRequest("POST", url, STREAM_HEADERS if stream else HEADERS, orjson.dumps(body))


# --- chat ---------------------------------------------------------------------------------------------------


def build_chat(target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
    if payload_format(target) == "openai":
        wire = openai_requests.build_chat(replace(target, quirks=_OPENAI_SHAPE), request, stream=stream)
        assert isinstance(wire.body, bytes)
        body = orjson.loads(wire.body)
        body.pop("model", None)
        return invocation(target, body, stream=stream)
    return invocation(target, _tgi_body(request, stream=stream), stream=stream)


def _tgi_body(request: ChatRequest, *, stream: bool) -> dict[str, Any]:
    if request.tools:
        raise UnsupportedFeatureError("the huggingface payload format has no tools; use openai", field="tools")
    for message in request.messages:
        if not isinstance(message.content, str) and not all(isinstance(p, TextPart) for p in message.content):
            raise UnsupportedFeatureError("the huggingface payload format takes text only", field="messages")
    parameters: dict[str, Any] = {"return_full_text": False, "details": True}
    if request.max_tokens is not None:
        parameters["max_new_tokens"] = request.max_tokens
    if request.temperature:  # TGI wants a strictly positive temperature; 0 means greedy decoding
        parameters["temperature"] = request.temperature
        parameters["do_sample"] = True
    elif request.temperature == 0:
        parameters["do_sample"] = False
    if request.top_p is not None and 0 < request.top_p < 1:  # TGI refuses top_p outside (0, 1)
        parameters["top_p"] = request.top_p
    if request.stop:
        parameters["stop"] = list(request.stop)
    if request.seed is not None:
        parameters["seed"] = request.seed
    return {"inputs": transcript(request), "parameters": parameters, "stream": stream}


def transcript(request: ChatRequest) -> str:
    """A plain prompt for text-generation containers that apply no chat template of their own."""
    names = {"system": "System", "user": "User", "assistant": "Assistant", "tool": "Tool"}
    turns = [f"{names[m.role]}: {m.text}" for m in request.messages]
    return "\n\n".join([*turns, "Assistant:"])


def parse_chat(target: Target, body: bytes) -> ChatResult:
    with reading(target, "invocation"):
        data = orjson.loads(body)
        if isinstance(data, dict) and "choices" in data:
            return openai_responses.parse_chat(target, body)
        answer = data[0] if isinstance(data, list) else data
        if answer.get("error"):
            raise openai_responses.error_from_body(target, 200, {}, answer)
        details = answer.get("details") or {}
        return ChatResult(
            model=target.model.id,
            content=answer["generated_text"],
            finish_reason=TGI_FINISH_REASONS.get(details.get("finish_reason") or "", "stop"),
            usage=_tgi_usage(details),
        )


def _tgi_usage(details: Mapping[str, Any]) -> Usage:
    # TGI reports the prompt's length only in some versions (`input_length`); without it the runtime estimates.
    prompt, completion = details.get("input_length"), details.get("generated_tokens")
    if prompt is None or completion is None:
        return UNREPORTED
    return Usage(prompt_tokens=prompt, completion_tokens=completion)


class PayloadStream(ChatStreamParser):
    """PayloadPart bytes to chunks: lines re-joined across parts; OpenAI chunks and TGI tokens both read."""

    __slots__ = ("_buffer", "_openai", "_target", "finished")

    def __init__(self, target: Target) -> None:
        self._target = target
        self._openai = OpenAIChatStream(target)
        self._buffer = b""
        self.finished = False

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        if event.id is not None:  # ModelStreamError or InternalStreamFailure after HTTP 200
            raise aws.stream_exception(self._target, event)
        buffer = self._buffer + event.data
        *lines, self._buffer = buffer.split(b"\n")
        chunks = [chunk for line in lines if (chunk := self._line(line)) is not None]
        tail = self._buffer.strip()
        if tail and tail.endswith(b"}") and _is_json(tail.removeprefix(b"data:")):
            # A last line without its newline: the stream may end here, and the runtime has no end-of-stream
            # hook for parsers, so a complete object is read now.
            self._buffer = b""
            chunk = self._line(tail)
            if chunk is not None:
                chunks.append(chunk)
        return _merged(chunks)

    def _line(self, raw: bytes) -> ChatChunk | None:
        line = raw.strip()
        if not line or line.startswith((b":", b"event:", b"id:", b"retry:")):
            return None
        if line.startswith(b"data:"):
            line = line[5:].strip()
        if line == b"[DONE]":
            self.finished = True
            return None
        with reading(self._target, "invocation stream"):
            data = orjson.loads(line)
            if not isinstance(data, dict):
                raise TypeError(f"expected a JSON object, got {type(data).__name__}")
            if "choices" in data or isinstance(data.get("error"), dict):
                return self._openai.feed(ServerSentEvent(line))
            if data.get("error"):  # TGI: {"error": "...", "error_type": "..."}
                raise openai_responses.error_from_body(self._target, 200, {}, data, in_stream=True)
            token = data.get("token") or {}
            details = data.get("details")
            text = "" if token.get("special") else token.get("text") or ""
            if not details:
                return ChatChunk(content=text) if text else None
            finish = TGI_FINISH_REASONS.get(details.get("finish_reason") or "", "stop")
            usage = _tgi_usage(details)
            return ChatChunk(content=text, finish_reason=finish, usage=None if usage is UNREPORTED else usage)


def _is_json(raw: bytes) -> bool:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return True


def _merged(chunks: list[ChatChunk]) -> ChatChunk | None:
    """One chunk for the lines of one payload part (a parser returns at most one chunk per event)."""
    if not chunks:
        return None
    if len(chunks) == 1:
        return chunks[0]
    return ChatChunk(
        content="".join(c.content for c in chunks),
        reasoning="".join(c.reasoning for c in chunks),
        tool_calls=tuple(d for c in chunks for d in c.tool_calls),
        finish_reason=next((c.finish_reason for c in reversed(chunks) if c.finish_reason), None),
        usage=next((c.usage for c in reversed(chunks) if c.usage is not None), None),
    )


# --- embeddings and rerank ----------------------------------------------------------------------------------


def build_embeddings(target: Target, request: EmbeddingRequest) -> UpstreamRequest:
    if payload_format(target) == "huggingface":
        if request.dimensions is not None:
            raise UnsupportedFeatureError("the huggingface payload format takes no dimensions", field="dimensions")
        return invocation(target, {"inputs": list(request.texts)})
    body: dict[str, Any] = {"input": list(request.texts), "encoding_format": "float"}
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    return invocation(target, body)


def parse_embeddings(target: Target, body: bytes) -> EmbeddingResult:
    with reading(target, "embeddings"):
        data = orjson.loads(body)
        if isinstance(data, dict) and "data" in data:
            return openai_responses.parse_embeddings(target, body)
        if isinstance(data, dict):
            data = data.get("embeddings") or [data["embedding"]]
        vectors = tuple(list(vector) for vector in data)
        if vectors and vectors[0] and isinstance(vectors[0][0], list):
            raise UpstreamProtocolError(
                "the endpoint answered token embeddings, not one vector per text: deploy it with pooling "
                "(TEI, or a sentence-transformers model)",
                provider=target.provider.id,
            )
        return EmbeddingResult(model=target.model.id, vectors=vectors, usage=UNREPORTED)


def build_rerank(target: Target, request: RerankRequest) -> UpstreamRequest:
    if payload_format(target) == "huggingface":
        return invocation(target, {"query": request.query, "texts": list(request.documents), "return_text": False})
    body: dict[str, Any] = {"query": request.query, "documents": list(request.documents)}
    if request.top_n is not None:
        body["top_n"] = request.top_n
    return invocation(target, body)


def parse_rerank(target: Target, request: RerankRequest, body: bytes) -> RerankResult:
    with reading(target, "rerank"):
        data = orjson.loads(body)
        if isinstance(data, dict) and "results" in data:
            return openai_responses.parse_rerank(target, request, body)
        # TEI answers [{"index", "score"}]; a custom handler `{"scores": [...]}`, one per document in order.
        items = [{"index": i, "score": s} for i, s in enumerate(data["scores"])] if isinstance(data, dict) else data
        hits = [
            RerankHit(
                index=int(item["index"]), score=float(item["score"]), document=request.documents[int(item["index"])]
            )
            for item in items
        ]
        hits.sort(key=lambda hit: hit.score, reverse=True)
        return RerankResult(model=target.model.id, hits=tuple(hits), usage=UNREPORTED)


# The huggingface (TGI) payload's parameters: max_new_tokens, seed, stop, temperature, top_p.
_TGI_PARAMETERS = frozenset({"max_tokens", "seed", "stop", "temperature", "top_p", "tool_choice"})


class SageMaker(WireProtocol):
    """Amazon SageMaker Runtime: a container-defined body on an endpoint, signed with SigV4 (`sagemaker`)."""

    name = "sagemaker"
    quirks_model = SageMakerQuirks
    stream_framing = "aws-eventstream"

    def carried_parameters(self, target: Target) -> frozenset[str]:
        return _TGI_PARAMETERS if payload_format(target) == "huggingface" else self.chat_parameters

    def build_chat(self, target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
        return build_chat(target, request, stream=stream)

    def parse_chat(self, target: Target, body: bytes) -> ChatResult:
        return parse_chat(target, body)

    def chat_stream_parser(self, target: Target) -> ChatStreamParser:
        return PayloadStream(target)

    def build_embeddings(self, target: Target, request: EmbeddingRequest) -> UpstreamRequest:
        return build_embeddings(target, request)

    def parse_embeddings(self, target: Target, body: bytes) -> EmbeddingResult:
        return parse_embeddings(target, body)

    def build_rerank(self, target: Target, request: RerankRequest) -> UpstreamRequest:
        return build_rerank(target, request)

    def parse_rerank(self, target: Target, request: RerankRequest, body: bytes) -> RerankResult:
        return parse_rerank(target, request, body)

    def parse_error(self, target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        return aws.parse_error(target, status, headers, body)
