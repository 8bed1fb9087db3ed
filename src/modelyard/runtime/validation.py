"""Credential checks: the form first, then one tiny live call of the model's type."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from modelyard.catalog.forms import check_values, is_shown
from modelyard.catalog.spec import FormField, ModelProperties, ModelSpec, ProviderSpec
from modelyard.errors import CredentialsNotConfiguredError, CredentialValidationError, UpstreamError
from modelyard.protocols.base import Target
from modelyard.types import ChatRequest, EmbeddingRequest, Message, ModelType, ModerationRequest, RerankRequest
from modelyard.types.audio import SpeechRequest, TranscriptionRequest

if TYPE_CHECKING:
    from modelyard.runtime.invoke import Runtime


async def validate(
    runtime: Runtime,
    provider: str,
    credentials: Mapping[str, str],
    model_id: str | None,
    model_type: ModelType | None,
    base_url: str | None,
) -> dict[str, str]:
    binding = runtime.binding(provider)
    spec = binding.spec
    kind: ModelType = model_type or "llm"
    is_custom = model_id is not None and (kind, model_id) not in binding.models
    values = check_values(spec.model_credentials if is_custom else spec.credentials, credentials)
    try:
        if is_custom and model_id is not None and binding.protocol.describes_models:
            asked = binding.target(binding.model(model_id, kind, values), values, base_url=base_url)
            values = with_described(spec.model_credentials, values, await runtime.describe_model(asked), kind)
        model = binding.model(model_id, kind, values) if model_id is not None else validation_model(spec, values)
        target = binding.target(model, values, base_url=base_url)
        await _tiny_call(runtime, target, model)
    except CredentialsNotConfiguredError as exc:
        raise CredentialValidationError(str(exc)).with_params(**exc.params) from exc
    except UpstreamError as exc:
        raise CredentialValidationError(f"the test call failed: {exc}").with_params(
            **{**exc.params, "case": "test_call"}
        ) from exc
    return values


def with_described(
    form: Iterable[FormField], values: Mapping[str, str], described: Mapping[str, str], model_type: ModelType
) -> dict[str, str]:
    """The form's values with what the server described filled in where the user left a field empty or on `auto`
    (Read from the server); a value the user chose stays, and a field the form hides for this type stays unset."""
    filled = dict(values)
    for field in form:
        value = described.get(field.variable)
        if value is None or filled.get(field.variable, "auto") != "auto" or not is_shown(field, filled, model_type):
            continue
        filled[field.variable] = value
    return filled


def validation_model(spec: ProviderSpec, values: Mapping[str, str] | None = None) -> ModelSpec:
    """The model a provider-level credential check calls: the one the user named in the credentials' validation
    field, else `validate_with`, else the first current LLM."""
    chosen = (values or {}).get(spec.validate_model_credential or "", "").strip()
    if chosen:
        # A model the catalog lists keeps its rules and quirks; any other name is called as a plain chat model.
        return spec.model(chosen, "llm") or ModelSpec(id=chosen, type="llm", properties=ModelProperties(mode="chat"))
    if spec.validate_with is not None:
        return next(m for m in spec.models if m.id == spec.validate_with)
    current = [m for m in spec.models if not m.deprecated] or list(spec.models)
    if not current:
        raise CredentialValidationError(f"{spec.id} has no predefined model to test credentials with")
    return next((m for m in current if m.type == "llm"), current[0])


async def _tiny_call(runtime: Runtime, target: Target, model: ModelSpec) -> None:
    if model.type == "llm":
        await runtime.invoke_chat(target, ChatRequest(messages=(Message.user("ping"),), max_tokens=16), stream=False)
    elif model.type == "text-embedding":
        await runtime.invoke_embeddings(target, EmbeddingRequest(("ping",)))
    elif model.type == "rerank":
        await runtime.invoke_rerank(target, RerankRequest("ping", ("pong",)))
    elif model.type == "speech2text":
        await runtime.invoke_transcription(target, TranscriptionRequest(silent_wav(), "ping.wav"))
    elif model.type == "tts":
        speech = await runtime.invoke_speech(target, SpeechRequest("ping"))
        await speech.aclose()
    else:
        await runtime.invoke_moderation(target, ModerationRequest(("ping",)))


def silent_wav(seconds: float = 0.5, rate: int = 16000) -> bytes:
    """A short silent mono WAV, for checking speech-to-text credentials without shipping a file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * int(seconds * rate))
    return buffer.getvalue()
