"""The catalog round trip, run against a provider's real API (or, in the normal suite, its fake): one call per
capability a model declares, each cell recorded as it went, for a table an operator compares with
docs/capabilities.md.

Keys come from the environment, one variable per credential field: MODELYARD_LIVE_<PROVIDER>_<FIELD>, upper case
(MODELYARD_LIVE_MISTRALAI_API_KEY, MODELYARD_LIVE_OPENAI_OPENAI_API_KEY, ...). A provider that only takes custom
models also needs MODELYARD_LIVE_<PROVIDER>_MODEL, the model to call.
"""

from __future__ import annotations

import base64
import os
import struct
import zlib
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any

from modelyard.catalog.forms import check_values
from modelyard.catalog.spec import FormField, ModelSpec, ProviderSpec
from modelyard.errors import CredentialValidationError, ModelyardError
from modelyard.runtime import Runtime
from modelyard.runtime.validation import silent_wav
from modelyard.types import (
    ChatRequest,
    EmbeddingRequest,
    ImagePart,
    Message,
    ModerationRequest,
    RerankRequest,
    ResponseFormat,
    SpeechRequest,
    TextPart,
    Tool,
    TranscriptionRequest,
)

COLUMNS = ("invoke", "streaming", "tools", "vision", "structured-output", "gateway")  # as docs/capabilities.md
FEATURES = {"tools": "tool-call", "vision": "vision", "structured-output": "structured-output"}
WEATHER = Tool("get_weather", "Weather for a city", {"type": "object", "properties": {"city": {"type": "string"}}})


def _png(size: int = 16, rgb: tuple[int, int, int] = (200, 30, 30)) -> str:
    """A one-colour PNG as a data URL: small for any vision model, large enough not to be refused as empty."""
    raw = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return "data:image/png;base64," + base64.b64encode(png).decode()


RED_SQUARE = _png()


@dataclass(frozen=True)
class Cell:
    provider: str
    protocol: str
    model_type: str
    column: str
    model: str
    outcome: str  # "yes", "failed: <error>", or "—" (not declared)

    @property
    def failed(self) -> bool:
        return self.outcome.startswith("failed")


def env_name(provider: str, variable: str) -> str:
    return f"MODELYARD_LIVE_{provider.upper()}_{variable.upper()}"


def credentials_from_env(spec: ProviderSpec, environ: Mapping[str, str] = os.environ) -> dict[str, str] | None:
    """The provider's credentials from MODELYARD_LIVE_* variables, checked against its form; None when a required
    field (its key) is missing."""
    form = spec.credentials if spec.models else spec.model_credentials
    values = {
        f.variable: environ[env_name(spec.id, f.variable)] for f in form if env_name(spec.id, f.variable) in environ
    }
    if not any(values.get(f.variable) for f in form if f.is_secret) and any(f.is_secret for f in form):
        return None
    try:
        return check_values(form, values)
    except CredentialValidationError:
        return None


def required_variables(spec: ProviderSpec) -> list[str]:
    form: tuple[FormField, ...] = spec.credentials if spec.models else spec.model_credentials
    names = [env_name(spec.id, f.variable) for f in form if f.required]
    return names + ([] if spec.models else [env_name(spec.id, "model")])


def chosen_models(spec: ProviderSpec, environ: Mapping[str, str] = os.environ) -> dict[str, list[ModelSpec]]:
    """Per model type, the models to call: for chat the validation model (cheap) and, for each feature it lacks, the
    cheapest current model that declares it; for other types the cheapest current model."""
    chosen: dict[str, list[ModelSpec]] = {}
    for model_type in spec.supported_model_types:
        current = sorted(
            (m for m in spec.models if m.type == model_type and not m.deprecated),
            key=lambda m: m.pricing.input if m.pricing is not None else 0,
        )
        if not current:
            continue
        first = next((m for m in current if m.id == spec.validate_with), current[0])
        models = [first]
        if model_type == "llm":
            for feature in FEATURES.values():
                if not first.supports(feature):  # type: ignore[arg-type]
                    other = next((m for m in current if m.supports(feature)), None)  # type: ignore[arg-type]
                    if other is not None and other not in models:
                        models.append(other)
        chosen[model_type] = models
    return chosen


async def round_trip(
    runtime: Runtime,
    spec: ProviderSpec,
    credentials: Mapping[str, str],
    *,
    base_url: str | None = None,
    custom_model: str | None = None,
) -> list[Cell]:
    """Every capability the provider's models declare, called once each; the cells, in docs/capabilities.md order."""
    cells: list[Cell] = []
    binding = runtime.binding(spec.id)
    by_type = chosen_models(spec)
    if custom_model is not None:  # a provider of custom models only: the one the operator named, as a chat model
        by_type = {"llm": [binding.model(custom_model, "llm", credentials)]}
    for model_type in spec.supported_model_types:
        models = by_type.get(model_type)
        for column in COLUMNS:
            cell = Cell(spec.id, spec.protocol, model_type, column, models[0].id if models else "", "—")
            if not models or column == "gateway" or (model_type != "llm" and column != "invoke"):
                cells.append(cell)
                continue
            model = _model_for(models, column)
            if model is None:
                cells.append(cell)
                continue
            target = binding.target(model, credentials, base_url=base_url)
            outcome = await _attempt(_call(runtime, target, model_type, column))
            cells.append(Cell(spec.id, spec.protocol, model_type, column, model.id, outcome))
    return cells


def _model_for(models: list[ModelSpec], column: str) -> ModelSpec | None:
    feature = FEATURES.get(column)
    if feature is None:
        return models[0]
    return next((m for m in models if m.supports(feature)), None)  # type: ignore[arg-type]


async def _attempt(call: Awaitable[None]) -> str:
    try:
        await call
    except (ModelyardError, AssertionError) as exc:  # a cell that failed says why, in one line
        return f"failed: {type(exc).__name__}: {str(exc)[:160]}"
    return "yes"


async def _call(runtime: Runtime, target: Any, model_type: str, column: str) -> None:
    if model_type == "llm":
        await _chat(runtime, target, column)
    elif model_type == "text-embedding":
        assert (await runtime.invoke_embeddings(target, EmbeddingRequest(("hello",)))).vectors
    elif model_type == "rerank":
        assert (await runtime.invoke_rerank(target, RerankRequest("fruit", ("apple", "car")))).hits
    elif model_type == "speech2text":
        await runtime.invoke_transcription(target, TranscriptionRequest(silent_wav(), "silence.wav"))
    elif model_type == "tts":
        assert await (await runtime.invoke_speech(target, SpeechRequest("Hello."))).read()
    else:
        assert (await runtime.invoke_moderation(target, ModerationRequest(("hello",)))).verdicts


async def _chat(runtime: Runtime, target: Any, column: str) -> None:
    hi = (Message.user("Say hello in one word."),)
    if column == "invoke":
        assert (await runtime.invoke_chat(target, ChatRequest(hi, max_tokens=256), stream=False)).content
    elif column == "streaming":
        streamed = await runtime.invoke_chat(target, ChatRequest(hi, max_tokens=256), stream=True)
        result = await streamed.collect()
        assert result.content and result.usage is not None
    elif column == "tools":
        ask = (Message.user("What is the weather in Oslo? Use the tool."),)
        result = await runtime.invoke_chat(target, ChatRequest(ask, tools=(WEATHER,), max_tokens=512), stream=False)
        assert [call.name for call in result.tool_calls] == ["get_weather"], "no get_weather call"
    elif column == "vision":
        parts = (TextPart("What colour is this image? One word."), ImagePart(RED_SQUARE))
        request = ChatRequest((Message.user(parts),), max_tokens=256)
        assert (await runtime.invoke_chat(target, request, stream=False)).content
    else:
        schema = {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]}
        request = ChatRequest(
            (Message.user("Give one word as JSON."),), response_format=ResponseFormat("json_schema", "word", schema)
        )
        assert (await runtime.invoke_chat(target, request, stream=False)).content


def table(cells: list[Cell]) -> str:
    """The cells as docs/capabilities.md's table (one row per provider and model type)."""
    lines = [
        "| provider | protocol | model type | " + " | ".join(COLUMNS) + " |",
        "|---|---|---|" + "---|" * len(COLUMNS),
    ]
    rows: dict[tuple[str, str, str], dict[str, str]] = {}
    for cell in cells:
        rows.setdefault((cell.provider, cell.protocol, cell.model_type), {})[cell.column] = (
            "yes" if cell.outcome == "yes" else "FAILED" if cell.failed else cell.outcome
        )
    for (provider, protocol, model_type), row in rows.items():
        lines.append(
            f"| {provider} | {protocol} | {model_type} | " + " | ".join(row.get(c, "—") for c in COLUMNS) + " |"
        )
    failures = [f"- {c.provider} {c.model_type} {c.column} ({c.model}): {c.outcome}" for c in cells if c.failed]
    return "\n".join(lines + (["", *failures] if failures else []))
