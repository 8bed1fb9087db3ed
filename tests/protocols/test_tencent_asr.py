"""Tencent Cloud ASR: SentenceRecognition (TC3) and flash recognition (signed URL), on bytes and through the runtime
against the Tencent fake, which verifies both signatures; and the tencentcloud SDK held to the fake and to us."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest
from msgspec.structs import replace
from tencentcloud.asr.v20190614 import asr_client, models
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from modelyard.errors import (
    CredentialsNotConfiguredError,
    InvalidRequestError,
    ProviderQuotaExhaustedError,
    UnsupportedFeatureError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamUnavailableError,
)
from modelyard.protocols.tencent_asr import TencentASR, TencentASRQuirks, voice_format
from modelyard.runtime.validation import silent_wav
from modelyard.types import TranscriptionRequest
from tests.capabilities import prove
from tests.fakes.loopback import served
from tests.fakes.tencent import FakeTencent, cloud_error, envelope

SECRET_ID = "AKIDasrtest0001"  # an id, not a secret: the SDK logs its requests at DEBUG
SECRET_KEY = "asr-secret-key-0001"
CREDENTIALS = {"secret_id": SECRET_ID, "secret_key": SECRET_KEY, "app_id": "1259220000"}
asr = TencentASR()


@pytest.fixture
async def fake() -> AsyncIterator[FakeTencent]:
    async with served(FakeTencent(keys={SECRET_ID: SECRET_KEY})) as upstream:
        yield upstream


def asr_target(runtime, model: str = "16k_zh", *, url: str = "https://asr.tencentcloudapi.com", **credentials: str):
    target = runtime.target("tencentcloud", model, "speech2text", CREDENTIALS | credentials, base_url=url)
    quirks = target.quirks
    assert isinstance(quirks, TencentASRQuirks)
    return replace(target, quirks=quirks.model_copy(update={"flash_url": url}))  # flash goes to the same address


# --- SentenceRecognition on bytes ----------------------------------------------------------------------------


def test_sentence_request_sends_base64_audio_with_its_length_and_format(runtime) -> None:
    audio = silent_wav(0.1)
    upstream = asr.build_transcription(asr_target(runtime, "16k_en"), TranscriptionRequest(audio, "hello.WAV"))
    assert upstream.url == "https://asr.tencentcloudapi.com/"
    assert upstream.headers["X-TC-Action"] == "SentenceRecognition"
    assert upstream.headers["X-TC-Version"] == "2019-06-14"
    assert orjson.loads(upstream.body) == {
        "EngSerViceType": "16k_en",
        "SourceType": 1,
        "VoiceFormat": "wav",
        "Data": base64.b64encode(audio).decode(),
        "DataLen": len(audio),
    }


@pytest.mark.parametrize(
    ("filename", "expected"),
    [("a.mp3", "mp3"), ("a.ogg", "ogg-opus"), ("a.opus", "ogg-opus"), ("a.m4a", "m4a"), ("noext", "wav")],
)
def test_voice_format_comes_from_the_file_extension(filename: str, expected: str) -> None:
    assert voice_format(filename) == expected


def test_an_unsupported_container_is_refused_before_any_call() -> None:
    with pytest.raises(UnsupportedFeatureError, match="flac"):
        voice_format("a.flac")


def test_sentence_answer_reads_text_and_duration(runtime) -> None:
    body = orjson.dumps(envelope(Result="你好。", AudioDuration=2350, WordSize=0, WordList=None))
    result = asr.parse_transcription(asr_target(runtime), body)
    assert (result.text, result.duration_s) == ("你好。", 2.35)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("AuthFailure.SignatureFailure", UpstreamAuthError),
        ("FailedOperation.UserHasNoAmount", ProviderQuotaExhaustedError),
        ("FailedOperation.ServiceIsolate", ProviderQuotaExhaustedError),
        ("RequestLimitExceeded.UinLimitExceeded", UpstreamRateLimitError),
        ("InvalidParameterValue.ErrorInvalidVoicedata", UpstreamBadRequestError),
        ("FailedOperation.ErrorRecognize", UpstreamUnavailableError),
        ("InternalError.ErrorRecognize", UpstreamUnavailableError),
    ],
)
def test_sentence_errors_in_http_200_are_classified(runtime, code: str, kind: type[UpstreamError]) -> None:
    with pytest.raises(kind) as caught:
        asr.parse_transcription(asr_target(runtime), orjson.dumps(cloud_error(code, "nope")))
    assert caught.value.vendor_code == code


# --- flash on bytes ------------------------------------------------------------------------------------------


def test_flash_request_is_the_raw_audio_at_the_appid_path(runtime) -> None:
    audio = silent_wav(0.1)
    upstream = asr.build_transcription(asr_target(runtime, "16k_zh_large"), TranscriptionRequest(audio, "a.mp3"))
    parts = urlsplit(upstream.url)
    assert (parts.netloc, parts.path) == ("asr.tencentcloudapi.com", "/asr/flash/v1/1259220000")
    assert dict(parse_qsl(parts.query)) == {
        "engine_type": "16k_zh_large",
        "voice_format": "mp3",
        "first_channel_only": "1",
    }
    assert upstream.body == audio
    assert upstream.headers["Content-Type"] == "application/octet-stream"


def test_flash_without_an_app_id_names_the_credential(runtime) -> None:
    target = asr_target(runtime, "16k_zh_large", app_id="")
    with pytest.raises(CredentialsNotConfiguredError, match="app_id"):
        asr.build_transcription(target, TranscriptionRequest(b"RIFF", "a.wav"))


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (4002, UpstreamAuthError),
        (4004, ProviderQuotaExhaustedError),
        (4006, UpstreamRateLimitError),
        (4007, UpstreamBadRequestError),
        (5000, UpstreamUnavailableError),
    ],
)
def test_flash_codes_are_classified(runtime, code: int, kind: type[UpstreamError]) -> None:
    body = orjson.dumps({"request_id": "r", "code": code, "message": "nope"})
    with pytest.raises(kind) as caught:
        asr.parse_transcription(asr_target(runtime, "16k_multi_lang"), body)
    assert caught.value.vendor_code == str(code)


# --- through the runtime, against the fake -------------------------------------------------------------------


async def test_sentence_recognition_through_the_runtime_is_signed(runtime, fake) -> None:
    result = await runtime.transcribe(
        provider="tencentcloud",
        model="16k_zh",
        credentials=CREDENTIALS,
        audio=silent_wav(1.0),
        filename="ping.wav",
        base_url=fake.url,
    )
    assert result.text == "腾讯云语音识别。"
    assert result.duration_s == 1.0
    assert fake.signatures[-1] == (SECRET_ID, "asr", True)
    assert result.usage.currency == "CNY" and result.usage.total_price > 0  # priced per request
    prove("tencentcloud", "speech2text", "invoke")


async def test_flash_recognition_through_the_runtime_is_signed(runtime, fake) -> None:
    target = asr_target(runtime, "16k_zh_large", url=fake.url)
    result = await runtime.invoke_transcription(target, TranscriptionRequest(silent_wav(2.0), "long.wav"))
    assert result.text == "腾讯云极速识别。"
    assert result.duration_s == 2.0
    assert fake.signatures[-1] == (SECRET_ID, "asr-flash", True)
    query = fake.last.query
    assert query["secretid"] == SECRET_ID and query["engine_type"] == "16k_zh_large"


async def test_the_fake_refuses_a_wrong_key_on_both_apis(runtime, fake) -> None:
    wrong = {"secret_key": "not-the-key"}
    with pytest.raises(UpstreamAuthError, match="SignatureFailure"):
        await runtime.invoke_transcription(
            asr_target(runtime, url=fake.url, **wrong), TranscriptionRequest(b"RIFF0000")
        )
    with pytest.raises(UpstreamAuthError, match="4002"):
        target = asr_target(runtime, "16k_zh_en", url=fake.url, **wrong)
        await runtime.invoke_transcription(target, TranscriptionRequest(b"RIFF0000"))
    assert [ok for _, _, ok in fake.signatures] == [False, False]


async def test_audio_over_the_one_sentence_limit_is_refused_before_the_call(runtime, fake) -> None:
    with pytest.raises(InvalidRequestError, match="3 MB"):
        await runtime.invoke_transcription(
            asr_target(runtime, url=fake.url), TranscriptionRequest(b"0" * (3 * 2**20 + 1))
        )
    assert fake.requests == []


# --- the tencentcloud SDK against the fake, and against us ---------------------------------------------------


def sdk_client(fake: FakeTencent, secret_key: str = SECRET_KEY) -> asr_client.AsrClient:
    profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=urlsplit(fake.url).netloc))
    return asr_client.AsrClient(credential.Credential(SECRET_ID, secret_key), "", profile)


def sentence_request(audio: bytes, engine: str = "16k_zh") -> models.SentenceRecognitionRequest:
    request = models.SentenceRecognitionRequest()
    request.EngSerViceType = engine
    request.SourceType = 1
    request.VoiceFormat = "wav"
    request.Data = base64.b64encode(audio).decode()
    request.DataLen = len(audio)
    return request


async def test_sdk_parses_the_fake_answer_and_its_signature_passes(fake) -> None:
    answer = await asyncio.to_thread(sdk_client(fake).SentenceRecognition, sentence_request(silent_wav(0.5)))
    assert answer.Result == "腾讯云语音识别。"
    assert answer.AudioDuration == 500
    assert answer.RequestId == "req-fake-0001"
    assert fake.signatures[-1] == (SECRET_ID, "asr", True)


async def test_sdk_raises_the_fake_error_with_its_code(fake) -> None:
    fake.fail_cloud("FailedOperation.UserHasNoAmount", "resource pack used up")
    with pytest.raises(TencentCloudSDKException) as caught:
        await asyncio.to_thread(sdk_client(fake).SentenceRecognition, sentence_request(b"RIFF"))
    assert caught.value.get_code() == "FailedOperation.UserHasNoAmount"
    with pytest.raises(TencentCloudSDKException) as caught:
        await asyncio.to_thread(sdk_client(fake, "wrong").SentenceRecognition, sentence_request(b"RIFF"))
    assert caught.value.get_code() == "AuthFailure.SignatureFailure"


async def test_our_sentence_request_equals_the_sdks(fake, runtime) -> None:
    audio = silent_wav(0.3, rate=8000)
    await asyncio.to_thread(sdk_client(fake).SentenceRecognition, sentence_request(audio, "8k_zh"))
    await runtime.transcribe(
        provider="tencentcloud",
        model="8k_zh",
        credentials=CREDENTIALS,
        audio=audio,
        filename="a.wav",
        base_url=fake.url,
    )
    ours, theirs = fake.requests[-1], fake.requests[-2]
    assert ours.json == theirs.json
    for header in ("x-tc-action", "x-tc-version", "content-type"):
        assert ours.headers[header] == theirs.headers[header]
    assert [ok for _, _, ok in fake.signatures[-2:]] == [True, True]
