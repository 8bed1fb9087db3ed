"""Tencent Cloud ASR: one-sentence recognition, and flash recognition for the models the provider file names.

One-sentence recognition (SentenceRecognition, API 3.0, audio up to 60 s and 3 MB): the model id is the engine
type (`16k_zh`, `16k_en`, `8k_zh`, ...); the audio goes base64 in `Data`, with its length before encoding in
`DataLen`, and the container named in `VoiceFormat`.

Flash recognition (录音文件识别极速版, an API 2.0-style endpoint, up to 2 h and 100 MB): `POST
{flash_url}/asr/flash/v1/{appid}?engine_type=...&voice_format=...` with the raw audio as the body; the signer adds
`secretid`, `timestamp` and the HMAC-SHA1 `Authorization`. Answers `{code, message, audio_duration,
flash_result: [{text, sentence_list}]}`, `code` 0 on success, under HTTP 200 either way.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import orjson

from modelyard.catalog.spec import Spec
from modelyard.errors import (
    CredentialsNotConfiguredError,
    ProviderQuotaExhaustedError,
    UnsupportedFeatureError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamUnavailableError,
)
from modelyard.protocols.base import Target, UpstreamRequest, WireProtocol
from modelyard.protocols.errors import redact
from modelyard.protocols.openai.responses import reading
from modelyard.protocols.tencent_cloud import cloud_request, parse_error, unwrap
from modelyard.types import TranscriptionRequest, TranscriptionResult
from modelyard.types.usage import UNREPORTED

VERSION = "2019-06-14"
# File extension -> VoiceFormat (SentenceRecognitionRequest.VoiceFormat in the SDK: wav, pcm, ogg-opus, speex,
# silk, mp3, m4a, aac, amr).
VOICE_FORMATS: Mapping[str, str] = {
    "wav": "wav",
    "pcm": "pcm",
    "ogg": "ogg-opus",
    "opus": "ogg-opus",
    "spx": "speex",
    "speex": "speex",
    "silk": "silk",
    "mp3": "mp3",
    "m4a": "m4a",
    "aac": "aac",
    "amr": "amr",
}


# Flash `code`s: 4002 is a refused signature (docs); the others follow the real-time ASR table (unverified here).
FLASH_ERRORS: Mapping[int, type[UpstreamError]] = {
    4002: UpstreamAuthError,
    4003: UpstreamAuthError,  # the AppId has not activated the service
    4004: ProviderQuotaExhaustedError,  # resource pack used up
    4005: ProviderQuotaExhaustedError,  # account in arrears
    4006: UpstreamRateLimitError,  # over the concurrency limit
}


class TencentASRQuirks(Spec):
    flash_models: tuple[str, ...] = ()  # models (engine types) served by flash recognition
    flash_url: str = "https://asr.cloud.tencent.com"
    app_id_credential: str = "app_id"


def voice_format(filename: str) -> str:
    extension = PurePath(filename).suffix.lower().lstrip(".") or "wav"
    found = VOICE_FORMATS.get(extension)
    if found is None:
        allowed = ", ".join(sorted(VOICE_FORMATS))
        raise UnsupportedFeatureError(f"Tencent Cloud ASR takes {allowed} audio, not .{extension}", field="file")
    return found


def _quirks(target: Target) -> TencentASRQuirks:
    return target.quirks if isinstance(target.quirks, TencentASRQuirks) else TencentASRQuirks()


class TencentASR(WireProtocol):
    name = "tencent_asr"
    quirks_model = TencentASRQuirks

    def build_transcription(self, target: Target, request: TranscriptionRequest) -> UpstreamRequest:
        quirks = _quirks(target)
        if target.model.id in quirks.flash_models:
            return _build_flash(target, quirks, request)
        params = {
            "EngSerViceType": target.upstream_model,  # sic: the capital V is the API's spelling
            "SourceType": 1,  # 1: the audio is in Data; 0 would fetch it from Url
            "VoiceFormat": voice_format(request.filename),
            "Data": base64.b64encode(request.audio).decode(),
            "DataLen": len(request.audio),
        }
        # The engine fixes the language, so `language` has nothing to set; `prompt` has no counterpart either.
        return cloud_request(target, "SentenceRecognition", VERSION, params)

    def parse_transcription(self, target: Target, body: bytes) -> TranscriptionResult:
        if target.model.id in _quirks(target).flash_models:
            return _parse_flash(target, body)
        response = unwrap(target, body, "transcription")
        with reading(target, "transcription"):
            duration_ms = response.get("AudioDuration")
            return TranscriptionResult(
                model=target.model.id,
                text=str(response["Result"]),
                usage=UNREPORTED,
                duration_s=duration_ms / 1000 if isinstance(duration_ms, int | float) else None,
            )

    def parse_error(self, target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        if target.model.id in _quirks(target).flash_models:
            try:
                data = orjson.loads(body)
                return _flash_error(target, status, int(data["code"]), str(data.get("message") or ""))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                pass
        return parse_error(target, status, headers, body)


def _build_flash(target: Target, quirks: TencentASRQuirks, request: TranscriptionRequest) -> UpstreamRequest:
    app_id = target.credentials.get(quirks.app_id_credential)
    if not app_id:
        raise CredentialsNotConfiguredError(f"credential {quirks.app_id_credential!r} is needed for flash recognition")
    # Only the first channel is recognised (as the speech SDK defaults), so the answer holds one text.
    query = f"engine_type={target.upstream_model}&voice_format={voice_format(request.filename)}&first_channel_only=1"
    url = f"{quirks.flash_url.rstrip('/')}/asr/flash/v1/{app_id}?{query}"
    return UpstreamRequest("POST", url, {"Content-Type": "application/octet-stream"}, request.audio)


def _parse_flash(target: Target, body: bytes) -> TranscriptionResult:
    with reading(target, "transcription"):
        data: dict[str, Any] = orjson.loads(body)
        code = int(data.get("code") or 0)
    if code != 0:
        raise _flash_error(target, 200, code, str(data.get("message") or ""))
    with reading(target, "transcription"):
        duration_ms = data.get("audio_duration")
        return TranscriptionResult(
            model=target.model.id,
            text="".join(str(result.get("text") or "") for result in data["flash_result"]),
            usage=UNREPORTED,
            duration_s=duration_ms / 1000 if isinstance(duration_ms, int | float) else None,
        )


def _flash_error(target: Target, status: int, code: int, message: str) -> UpstreamError:
    kind = FLASH_ERRORS.get(code) or (UpstreamUnavailableError if code >= 5000 else UpstreamBadRequestError)
    secrets = [value for key, value in target.credentials.items() if key in target.provider.secret_variables()]
    detail = f"flash recognition code {code}: {redact(message, secrets)}"
    return kind(detail, provider=target.provider.id, status_code=status, vendor_code=str(code))
