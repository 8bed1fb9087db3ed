"""Replicate's predictions API: create a prediction, then poll it or read its stream URL.

Checked against the `replicate` 1.0.7 SDK (2026-11): official models run at `POST /models/{owner}/{name}/predictions`,
a pinned version at `POST /predictions` with `version`; `Prefer: wait` blocks creation for a while (and may
still answer `processing`, so we poll `urls.get` until a terminal status); a stream is `GET urls.stream` with
`Accept: text/event-stream`, events `output` (raw text), `logs`, `error` and `done`, each with an `id`.

Inputs are per model (its version's OpenAPI schema); we send the fields the official language models share
(`prompt`, `system_prompt`, `max_tokens`, `temperature`, `top_p`, `stop_sequences`, `seed`, `image`) and pass
any other parameter through as an input. Embedding models take `texts` as a JSON-encoded list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from modelyard.catalog.spec import Spec
from modelyard.errors import InvalidRequestError, UnsupportedFeatureError, UpstreamError, UpstreamProtocolError
from modelyard.protocols.base import (
    JSON_HEADERS,
    ChatStreamParser,
    FollowUp,
    Target,
    UpstreamRequest,
    WireProtocol,
)
from modelyard.protocols.openai.responses import reading
from modelyard.protocols.plain import body_error, prompt_text, system_text
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import (
    ChatChunk,
    ChatRequest,
    ChatResult,
    EmbeddingRequest,
    EmbeddingResult,
    ImagePart,
    Message,
    TextPart,
    Usage,
)
from modelyard.types.chat import CHAT_PARAMETERS
from modelyard.types.usage import UNREPORTED

VERSION = "model_version"  # the model credential that pins a version (64 hex digits)
TERMINAL = frozenset({"succeeded", "failed", "canceled"})
_VERSION_ID = re.compile(r"^[0-9a-f]{64}$")
_STREAM_HEADERS = {"Accept": "text/event-stream", "Cache-Control": "no-store"}


class ReplicateQuirks(Spec):
    poll_interval_s: float = 0.5  # the SDK's default (REPLICATE_POLL_INTERVAL)


class Replicate(WireProtocol):
    name = "replicate"
    chat_parameters = CHAT_PARAMETERS - {
        "reasoning_effort",
        "parallel_tool_calls",
        "user",
    }  # predictions take no field for these
    quirks_model = ReplicateQuirks
    streams_by_follow_up = True

    def build_chat(self, target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
        return create_prediction(target, llm_input(request), stream=stream)

    def parse_chat(self, target: Target, body: bytes) -> ChatResult:
        with reading(target, "prediction"):
            prediction = finished_prediction(target, body)
            output = prediction.get("output")
            text = "".join(str(piece) for piece in output) if isinstance(output, list) else str(output or "")
            return ChatResult(
                model=target.model.id,
                content=text,
                finish_reason="stop",  # predictions report no stop reason
                usage=_usage(prediction.get("metrics")),
                id=prediction.get("id"),
            )

    def chat_stream_parser(self, target: Target) -> ChatStreamParser:
        return ReplicateChatStream(target)

    def follow_up(self, target: Target, body: bytes, *, stream: bool) -> FollowUp | None:
        try:
            prediction = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None  # parse_* reports the unreadable answer
        if not isinstance(prediction, dict):
            return None
        urls = prediction.get("urls") or {}
        status = prediction.get("status")
        if stream:
            if isinstance(urls.get("stream"), str):
                return FollowUp(UpstreamRequest("GET", urls["stream"], _STREAM_HEADERS))
            if status in ("failed", "canceled"):
                raise prediction_error(target, prediction)
            raise UpstreamProtocolError(f"{target.upstream_model} does not stream", provider=target.provider.id)
        if status in TERMINAL or status is None:
            return None
        url = urls.get("get") or f"{target.base_url}/predictions/{prediction['id']}"
        return FollowUp(UpstreamRequest("GET", url, {}), delay_s=_quirks(target).poll_interval_s)

    def build_embeddings(self, target: Target, request: EmbeddingRequest) -> UpstreamRequest:
        # The text embedders on Replicate (bge, e5, mpnet ports) declare `texts` as a string holding a JSON list.
        return create_prediction(target, {"texts": orjson.dumps(list(request.texts)).decode()}, stream=False)

    def parse_embeddings(self, target: Target, body: bytes) -> EmbeddingResult:
        with reading(target, "prediction"):
            prediction = finished_prediction(target, body)
            output = prediction["output"]
            if isinstance(output, dict):
                output = output.get("embeddings") or output["vectors"]
            vectors = tuple(
                [float(x) for x in (item["embedding"] if isinstance(item, dict) else item)] for item in output
            )
            return EmbeddingResult(model=target.model.id, vectors=vectors, usage=_usage(prediction.get("metrics")))

    def parse_error(self, target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        return body_error(target, status, headers, body)  # RFC 7807 problem details, or `{"detail": ...}`


def _quirks(target: Target) -> ReplicateQuirks:
    quirks = target.quirks
    return quirks if isinstance(quirks, ReplicateQuirks) else ReplicateQuirks()


# --- requests -------------------------------------------------------------------------------------------------------


def create_prediction(target: Target, model_input: Mapping[str, Any], *, stream: bool) -> UpstreamRequest:
    """A prediction of an official model (`owner/name`), or of a pinned version (`owner/name:version` or the
    `model_version` credential). Streaming creates without waiting, to open the stream at once."""
    body: dict[str, Any] = {"input": dict(model_input)}
    model, _, version = target.upstream_model.partition(":")
    version = target.credentials.get(VERSION) or version
    if version:
        if not _VERSION_ID.match(version):
            raise InvalidRequestError(f"{version!r} is not a Replicate version id (64 hex digits)", field=VERSION)
        body["version"] = version
        url = f"{target.base_url}/predictions"
    else:
        owner, slash, name = model.partition("/")
        if not (owner and slash and name):
            raise InvalidRequestError(f"{model!r} is not a Replicate model (owner/name)", field="model")
        url = f"{target.base_url}/models/{owner}/{name}/predictions"
    headers = dict(JSON_HEADERS)
    if stream:
        body["stream"] = True
    else:
        headers["Prefer"] = "wait"
    return UpstreamRequest("POST", url, headers, orjson.dumps(body))


def llm_input(request: ChatRequest) -> dict[str, Any]:
    if request.tools:
        raise UnsupportedFeatureError("Replicate predictions have no tool calls", field="tools")
    if request.response_format is not None and request.response_format.type != "text":
        raise UnsupportedFeatureError("Replicate predictions take no response format", field="response_format")
    image = _image(request.messages)
    text_only = ChatRequest(messages=tuple(_without_images(m) for m in request.messages))
    model_input: dict[str, Any] = {"prompt": prompt_text(text_only, with_system=False)}
    system = system_text(request.messages)
    if system:
        model_input["system_prompt"] = system
    if image is not None:
        model_input["image"] = image
    if request.max_tokens is not None:
        model_input["max_tokens"] = request.max_tokens
    if request.temperature is not None:
        model_input["temperature"] = request.temperature
    if request.top_p is not None:
        model_input["top_p"] = request.top_p
    if request.stop:
        model_input["stop_sequences"] = ",".join(request.stop)  # Llama models take one comma-separated string
    if request.seed is not None:
        model_input["seed"] = request.seed
    if request.presence_penalty is not None:
        model_input["presence_penalty"] = request.presence_penalty
    if request.frequency_penalty is not None:
        model_input["frequency_penalty"] = request.frequency_penalty
    model_input.update(request.extra)
    return model_input


def _image(messages: Sequence[Message]) -> str | None:
    """The one image a vision model's `image` input takes: a URL, or a data URL (Replicate accepts both)."""
    images = [p.url for m in messages if not isinstance(m.content, str) for p in m.content if isinstance(p, ImagePart)]
    if len(images) > 1:
        raise UnsupportedFeatureError("Replicate language models take one image per prediction", field="messages")
    return images[0] if images else None


def _without_images(message: Message) -> Message:
    if isinstance(message.content, str):
        return message
    return Message(message.role, tuple(p for p in message.content if isinstance(p, TextPart)))


# --- responses ------------------------------------------------------------------------------------------------------


def finished_prediction(target: Target, body: bytes) -> dict[str, Any]:
    prediction = orjson.loads(body)
    if not isinstance(prediction, dict):
        raise TypeError(f"expected a prediction object, got {type(prediction).__name__}")
    status = prediction.get("status")
    if status in ("failed", "canceled"):
        raise prediction_error(target, prediction)
    if status != "succeeded":
        raise ValueError(f"the prediction is still {status!r}")
    return prediction


def prediction_error(target: Target, prediction: Mapping[str, Any]) -> UpstreamError:
    """A prediction that failed in the model (or was canceled): accepted by the API, so not a bad request, and
    not worth retrying blindly (a retry runs, and bills, the model again)."""
    status = prediction.get("status", "failed")
    detail = prediction.get("error") or status
    return UpstreamError(f"the prediction {status}: {detail}", provider=target.provider.id, vendor_code=str(status))


def _usage(metrics: Any) -> Usage:
    if not isinstance(metrics, Mapping):
        return UNREPORTED
    prompt, completion = metrics.get("input_token_count"), metrics.get("output_token_count")
    if prompt is None and completion is None:
        return UNREPORTED
    return Usage(prompt_tokens=int(prompt or 0), completion_tokens=int(completion or 0))


class ReplicateChatStream(ChatStreamParser):
    """The stream URL's events: `output` carries raw text, `done` ends it (its `reason` says if it failed)."""

    __slots__ = ("_target", "finished")

    def __init__(self, target: Target) -> None:
        self._target = target
        self.finished = False

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        if event.event == "output":
            return ChatChunk(content=event.data.decode("utf-8", "replace")) if event.data else None
        if event.event == "error":
            raise prediction_error(self._target, {"status": "failed", "error": _event_detail(event.data)})
        if event.event == "done":
            self.finished = True
            reason = _event_reason(event.data)
            if reason in ("error", "canceled"):
                raise prediction_error(self._target, {"status": "canceled" if reason == "canceled" else "failed"})
            return ChatChunk(finish_reason="stop")
        return None  # logs, and anything newer


def _event_detail(data: bytes) -> str:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return data.decode("utf-8", "replace")
    if isinstance(parsed, Mapping):
        return str(parsed.get("detail") or parsed.get("error") or parsed)
    return str(parsed)


def _event_reason(data: bytes) -> str | None:
    try:
        parsed = orjson.loads(data) if data else {}
    except orjson.JSONDecodeError:
        return None
    return parsed.get("reason") if isinstance(parsed, Mapping) else None
