"""POST /v1/audio/transcriptions (multipart upload) and /v1/audio/speech (audio bytes, streamed)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import orjson
from starlette.datastructures import UploadFile
from starlette.requests import Request

from modelyard.errors import InvalidRequestError, ModelyardError
from modelyard.gateway.chat import invocation_headers, model_name
from modelyard.gateway.exchange import Exchange, stream_until_disconnect
from modelyard.gateway.metrics import Metrics
from modelyard.types import SpeechRequest, TranscriptionRequest

if TYPE_CHECKING:
    from modelyard.services.api_keys import ApiKeyIdentity
    from modelyard.services.context import Services

UPLOAD_LIMIT = 64 * 1024 * 1024
_SPEECH_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")


async def transcriptions(services: Services, exchange: Exchange, identity: ApiKeyIdentity, metrics: Metrics) -> None:
    declared = exchange.header(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > UPLOAD_LIMIT:
        raise InvalidRequestError("the upload is larger than 64 MB", field="file")
    if not (exchange.header(b"content-type") or "").startswith("multipart/form-data"):
        raise InvalidRequestError("send the audio as multipart/form-data", field="content-type")
    form = await Request(exchange.scope, exchange.receive).form(max_files=1, max_fields=32, max_part_size=1024 * 1024)
    exchange.watch_client()  # the upload is read: a disconnect from now on cancels the call
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidRequestError("file is required: the audio to transcribe", field="file")
        audio = await upload.read()
        response_format = str(form.get("response_format") or "json")
        if response_format not in ("json", "text", "verbose_json"):
            raise InvalidRequestError("response_format must be json, text or verbose_json", field="response_format")
        temperature = form.get("temperature")
        request = TranscriptionRequest(
            audio,
            upload.filename or "audio.wav",
            _text(form.get("language")),
            _text(form.get("prompt")),
            float(temperature) if isinstance(temperature, str) and temperature else None,
        )
        invocation = await services.invoker.transcribe(
            workspace_id=identity.workspace_id,
            model=model_name({"model": form.get("model")}),
            request=request,
            api_key_id=identity.api_key_id,
            request_id=exchange.request_id,
        )
    finally:
        await form.close()
    result = invocation.result
    headers = invocation_headers(invocation, exchange, result.usage.latency_s)
    if response_format == "text":
        await exchange.respond(200, result.text.encode(), content_type=b"text/plain; charset=utf-8", headers=headers)
    else:
        body: dict[str, object] = {"text": result.text}
        if response_format == "verbose_json" or result.duration_s is not None:
            body["usage"] = {"type": "duration", "seconds": result.duration_s or 0}
        await exchange.respond(200, orjson.dumps(body), headers=headers)
    metrics.observe("/v1/audio/transcriptions", 200, time.perf_counter() - exchange.started)


async def speech(services: Services, exchange: Exchange, identity: ApiKeyIdentity, metrics: Metrics) -> None:
    body = await exchange.json(limit=1024 * 1024)
    text = body.get("input")
    if not isinstance(text, str) or not text:
        raise InvalidRequestError("input must be a non-empty string", field="input")
    voice = body.get("voice")
    if isinstance(voice, dict):  # custom voices come as {"id": ...}
        voice = voice.get("id")
    if voice is not None and not isinstance(voice, str):
        raise InvalidRequestError("voice must be a string", field="voice")
    audio_format = body.get("response_format") or "mp3"
    if audio_format not in _SPEECH_FORMATS:
        raise InvalidRequestError(
            f"response_format must be one of {', '.join(_SPEECH_FORMATS)}", field="response_format"
        )
    speed = body.get("speed")
    if speed is not None and (isinstance(speed, bool) or not isinstance(speed, int | float) or not 0.25 <= speed <= 4):
        raise InvalidRequestError("speed must be a number from 0.25 to 4", field="speed")
    request = SpeechRequest(text, voice, audio_format, speed, _text(body.get("instructions")))
    invocation = await services.invoker.speak(
        workspace_id=identity.workspace_id,
        model=model_name(body),
        request=request,
        api_key_id=identity.api_key_id,
        request_id=exchange.request_id,
    )
    audio = invocation.result

    async def produce() -> None:
        await exchange.start_stream(
            content_type=audio.media_type.encode(), headers=invocation_headers(invocation, exchange)
        )
        try:
            async for chunk in audio:
                await exchange.write(chunk)
        except ModelyardError as exc:
            metrics.error("/v1/audio/speech", exc)  # the status is sent: all we can do is end the body early
        await exchange.end()

    try:
        completed = await stream_until_disconnect(exchange, produce)
    finally:
        await audio.aclose()
    metrics.observe("/v1/audio/speech", 200 if completed else 499, time.perf_counter() - exchange.started)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
