"""The traces themselves, imported only when traces are on (see `modelyard.telemetry`).

One trace per gateway call: a server span for the call (the caller's W3C `traceparent` continued), and inside it
`modelyard.authenticate`, `modelyard.resolve`, `modelyard.admission` (the key's and workspace's rates and budget),
`modelyard.quota` (the hosted quota's reservation) and the upstream call, a client span named and attributed as
OpenTelemetry's GenAI conventions say (`chat deepseek-flash`: gen_ai.operation.name, gen_ai.provider.name,
gen_ai.request.*, gen_ai.response.model, gen_ai.response.finish_reasons, gen_ai.usage.*). A streamed answer's span
ends with its stream. Never a credential, an API key or a header; message content only when the operator opts in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import orjson
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from modelyard._version import __version__
from modelyard.runtime.stream import ChatStream
from modelyard.telemetry import TRACED
from modelyard.types import ChatRequest, ChatResult, Message, Usage

if TYPE_CHECKING:
    from modelyard.protocols.base import Target
    from modelyard.services.api_keys import ApiKeyIdentity
    from modelyard.services.resolve import Resolved

log = logging.getLogger(__name__)
T = TypeVar("T")
S = TypeVar("S")
M = TypeVar("M", bound=str)
Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]

CONTENT_VARIABLE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"  # as OpenTelemetry's GenAI instrumentations
_CONTENT_ON = frozenset({"true", "span_only", "span_and_event"})

# gen_ai.operation.name per model type; rerank, transcription, speech and moderation have no value in the
# conventions (opentelemetry-semantic-conventions 0.66b2, 2026-12), so they are named as the model type says.
OPERATIONS = {
    "llm": "chat",
    "text-embedding": "embeddings",
    "rerank": "rerank",
    "speech2text": "transcription",
    "tts": "speech",
    "moderation": "moderation",
}
# gen_ai.provider.name where the conventions list the provider; any other is named by its catalog id.
PROVIDER_NAMES = {
    "openai": "openai",
    "anthropic": "anthropic",
    "azure_openai": "azure.ai.openai",
    "azure_ai_studio": "azure.ai.inference",
    "bedrock": "aws.bedrock",
    "gemini": "gcp.gemini",
    "vertex_ai": "gcp.vertex_ai",
    "cohere": "cohere",
    "deepseek": "deepseek",
    "groq": "groq",
    "mistralai": "mistral_ai",
}
_FINISH_REASONS = {"tool_calls": "tool_call"}  # the conventions' spelling, where ours differs


class Tracing:
    """Spans for gateway calls, from `provider`; `capture_content` puts messages into the upstream spans."""

    def __init__(self, provider: trace.TracerProvider, *, capture_content: bool = False) -> None:
        self._tracer = provider.get_tracer("modelyard", __version__)
        self.capture_content = capture_content

    async def gateway_call(self, app: ASGIApp, scope: Scope, receive: Any, send: Any, *, route: str) -> None:
        """Answer one gateway call with `app` inside the call's server span."""
        method = scope["method"]
        attributes: dict[str, AttributeValue] = {
            "http.request.method": method,
            "http.route": route,
            "url.path": scope["path"],
            "url.scheme": scope.get("scheme", "http"),
        }
        parent = propagate.extract(scope["headers"], getter=_HEADERS)
        with self._tracer.start_as_current_span(
            f"{method} {route}", context=parent, kind=SpanKind.SERVER, attributes=attributes
        ) as span:

            async def sending(message: MutableMapping[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    _answered(span, message)
                await send(message)

            await app({**scope, TRACED: True}, receive, sending)

    async def authenticate(self, step: Awaitable[ApiKeyIdentity]) -> ApiKeyIdentity:
        call = trace.get_current_span()
        with self._tracer.start_as_current_span("modelyard.authenticate"):
            identity = await step
        call.set_attributes(
            {"modelyard.workspace.id": identity.workspace_id, "modelyard.api_key.id": identity.api_key_id}
        )
        return identity

    def resolve(self, resolve: Callable[[S, str, M], Resolved], snapshot: S, model: str, model_type: M) -> Resolved:
        attributes: dict[str, AttributeValue] = {"modelyard.model.requested": model, "modelyard.model_type": model_type}
        with self._tracer.start_as_current_span("modelyard.resolve", attributes=attributes) as span:
            resolved = resolve(snapshot, model, model_type)
            span.set_attributes({"modelyard.provider": resolved.provider, "modelyard.model": resolved.model.id})
        return resolved

    async def phase(self, name: str, step: Awaitable[T]) -> T:
        """`step` inside a `modelyard.<name>` span (admission, quota)."""
        with self._tracer.start_as_current_span(f"modelyard.{name}"):
            return await step

    async def upstream(
        self, answer: Awaitable[T], resolved: Resolved, provider_type: str, target: Target, request: object
    ) -> T:
        """The upstream call inside its client span; a stream's span ends when the stream does."""
        operation = OPERATIONS.get(resolved.model_type, resolved.model_type)
        address = urlsplit(target.base_url)  # the host and port only: a URL may carry a credential
        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": PROVIDER_NAMES.get(resolved.provider, resolved.provider),
            "gen_ai.request.model": resolved.model.id,
            "modelyard.provider": resolved.provider,
            "modelyard.provider_type": provider_type,
        }
        if address.hostname:
            attributes["server.address"] = address.hostname
            attributes["server.port"] = address.port or (443 if address.scheme == "https" else 80)
        if isinstance(request, ChatRequest):
            attributes.update(_chat_request(request, self.capture_content))
        span = self._tracer.start_span(f"{operation} {resolved.model.id}", kind=SpanKind.CLIENT, attributes=attributes)
        try:
            with trace.use_span(span, record_exception=False, set_status_on_exception=False):
                result = await answer
        except BaseException as exc:
            _failed(span, exc)
            span.end()
            raise
        if isinstance(result, ChatStream):
            span.set_attribute("gen_ai.request.stream", True)
            result.add_done_callback(lambda stream, error: self._stream_ended(span, stream, error))
            return result
        self._result(span, result)
        span.end()
        return result

    def _result(self, span: Span, result: object) -> None:
        usage = getattr(result, "usage", None)
        if isinstance(usage, Usage):
            span.set_attributes(_usage(usage))
        if isinstance(result, ChatResult):
            span.set_attributes(_chat_result(result, self.capture_content))

    def _stream_ended(self, span: Span, stream: ChatStream, error: BaseException | None) -> None:
        if stream.usage is not None:  # set when the stream ran to its end
            span.set_attributes(_usage(stream.usage))
        span.set_attribute("gen_ai.response.model", stream.model)
        if stream.finish_reason is not None:
            span.set_attribute("gen_ai.response.finish_reasons", [_finish_reason(stream.finish_reason)])
        if error is not None:
            _failed(span, error)
        span.end()


def from_environment(env: Mapping[str, str]) -> Tracing:
    """Tracing as the OTEL_* variables configure it: the SDK's own tracer provider when something (the
    `opentelemetry-instrument` launcher) already set one, else one of ours with the exporters OTEL_TRACES_EXPORTER
    names (`otlp` by default, over HTTP; `console`). Sampling, batching and the OTLP endpoint, headers and timeout
    come from their standard variables, read by the SDK."""
    capture = env.get(CONTENT_VARIABLE, "").strip().lower() in _CONTENT_ON
    current = trace.get_tracer_provider()
    if not isinstance(current, trace.ProxyTracerProvider):
        return Tracing(current, capture_content=capture)
    provider = TracerProvider(resource=_resource())
    for exporter in _exporters(env):
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return Tracing(provider, capture_content=capture)


def _resource() -> Resource:
    detected = Resource.create({"service.version": __version__})  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
    if str(detected.attributes.get("service.name", "")).startswith("unknown_service"):
        detected = detected.merge(Resource({"service.name": "modelyard"}))
    return detected


def _exporters(env: Mapping[str, str]) -> Iterable[SpanExporter]:
    names = [name.strip().lower() for name in (env.get("OTEL_TRACES_EXPORTER") or "otlp").split(",")]
    for name in names:
        if name == "otlp":
            yield _otlp(env)
        elif name == "console":
            yield ConsoleSpanExporter()
        elif name and name != "none":
            log.warning("OTEL_TRACES_EXPORTER names %r, which modelyard does not ship; use otlp or console", name)


def _otlp(env: Mapping[str, str]) -> SpanExporter:
    protocol = (env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "").strip()
    if protocol and protocol != "http/protobuf":
        log.warning("OTLP over %s is not in modelyard[otel]; traces go over http/protobuf", protocol)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


# --- attributes ---------------------------------------------------------------------------------------------------


def _answered(span: Span, start: MutableMapping[str, Any]) -> None:
    status = int(start["status"])
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
    for name, value in start.get("headers", ()):
        if name == b"x-modelyard-cache":
            span.set_attribute("modelyard.response_cache", bytes(value).decode("latin-1"))


def _chat_request(request: ChatRequest, capture_content: bool) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {}
    for name, value in (
        ("gen_ai.request.max_tokens", request.max_tokens),
        ("gen_ai.request.temperature", request.temperature),
        ("gen_ai.request.top_p", request.top_p),
        ("gen_ai.request.seed", request.seed),
        ("gen_ai.request.presence_penalty", request.presence_penalty),
        ("gen_ai.request.frequency_penalty", request.frequency_penalty),
    ):
        if value is not None:
            attributes[name] = value
    if request.response_format is not None:
        attributes["gen_ai.output.type"] = "text" if request.response_format.type == "text" else "json"
    if capture_content:
        attributes["gen_ai.input.messages"] = orjson.dumps([_message(m) for m in request.messages]).decode()
    return attributes


def _chat_result(result: ChatResult, capture_content: bool) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {"gen_ai.response.model": result.model}
    if result.id:
        attributes["gen_ai.response.id"] = result.id
    if result.finish_reason is not None:
        attributes["gen_ai.response.finish_reasons"] = [_finish_reason(result.finish_reason)]
    if capture_content:
        output = {**_message(result.message()), "finish_reason": _finish_reason(result.finish_reason or "stop")}
        attributes["gen_ai.output.messages"] = orjson.dumps([output]).decode()
    return attributes


def _usage(usage: Usage) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {
        "gen_ai.usage.input_tokens": usage.prompt_tokens,
        "gen_ai.usage.output_tokens": usage.completion_tokens,
    }
    if usage.cached_tokens:
        attributes["gen_ai.usage.cache_read.input_tokens"] = usage.cached_tokens
    if usage.cache_write_tokens:
        attributes["gen_ai.usage.cache_creation.input_tokens"] = usage.cache_write_tokens
    if usage.reasoning_tokens:
        attributes["gen_ai.usage.reasoning.output_tokens"] = usage.reasoning_tokens
    if usage.time_to_first_token_s is not None:
        attributes["gen_ai.response.time_to_first_chunk"] = usage.time_to_first_token_s
    return attributes


def _message(message: Message) -> dict[str, Any]:
    """A message as the conventions' gen_ai.input.messages / output.messages hold it (text parts; other parts by
    type only: an image or audio file is not copied into a trace)."""
    parts: list[dict[str, Any]] = []
    if isinstance(message.content, str):
        if message.content:
            parts.append({"type": "text", "content": message.content})
    else:
        for part in message.content:
            text = getattr(part, "text", None)
            parts.append({"type": "text", "content": text} if isinstance(text, str) else {"type": _part_type(part)})
    for call in message.tool_calls:
        parts.append({"type": "tool_call", "id": call.id, "name": call.name, "arguments": call.arguments})
    if message.role == "tool":
        parts = [{"type": "tool_call_response", "id": message.tool_call_id, "response": message.content}]
    return {"role": message.role, "parts": parts}


def _part_type(part: object) -> str:
    return type(part).__name__.removesuffix("Part").lower()  # ImagePart -> image


def _finish_reason(reason: str) -> str:
    return _FINISH_REASONS.get(reason, reason)


def _failed(span: Span, error: BaseException) -> None:
    if isinstance(error, GeneratorExit | asyncio.CancelledError):
        span.set_attribute("error.type", "cancelled")  # the caller left, or the server stopped: not a failure
        return
    span.set_attribute("error.type", type(error).__name__)
    span.set_status(Status(StatusCode.ERROR, type(error).__name__))


class _HeaderGetter(Getter[Iterable[tuple[bytes, bytes]]]):
    """W3C trace context (and baggage) from ASGI's header pairs."""

    def get(self, carrier: Iterable[tuple[bytes, bytes]], key: str) -> list[str] | None:
        wanted = key.lower().encode("latin-1")
        found = [bytes(value).decode("latin-1") for name, value in carrier if bytes(name).lower() == wanted]
        return found or None

    def keys(self, carrier: Iterable[tuple[bytes, bytes]]) -> list[str]:
        return [bytes(name).decode("latin-1") for name, _ in carrier]


_HEADERS = _HeaderGetter()
