"""DashScope speech over the WebSocket task protocol: frames, events, errors, and the `dashscope` SDK on our fake."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import AsyncIterator
from typing import Any

import dashscope
import orjson
import pytest
from dashscope.audio.tts import SpeechSynthesizer as SambertSynthesizer
from dashscope.audio.tts_v2 import AudioFormat, SpeechSynthesizer
from dashscope.audio.tts_v2.speech_synthesizer import Request as SDKRequest

from modelyard.errors import (
    ContentFilteredError,
    InvalidRequestError,
    ProviderQuotaExhaustedError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
)
from modelyard.protocols.dashscope import tts
from modelyard.runtime import Runtime
from modelyard.runtime.transport import Timeouts
from modelyard.types import SpeechRequest
from tests.fakes.dashscope_tts import AUDIO_HEADER, event
from tests.fakes.registry import FAKES, serving
from tests.support import SECRET

CREDENTIALS = {"api_key": SECRET}


@pytest.fixture
async def fake() -> AsyncIterator[Any]:
    async with serving(FAKES["dashscope"]) as upstream:
        yield upstream


def target(runtime: Runtime, model: str = "cosyvoice-v2", base_url: str | None = None, **credentials: str):
    return runtime.target("tongyi", model, "tts", {**CREDENTIALS, **credentials}, base_url=base_url)


def frames_of(socket) -> list[dict[str, Any]]:
    return [orjson.loads(frame) for frame in socket.frames]


# --- frames, as the SDK builds them -----------------------------------------------------------------------------


def test_the_socket_url_follows_the_region(runtime) -> None:
    request = SpeechRequest("Hi")
    assert tts.build_speech_socket(target(runtime), request).url == dashscope.base_websocket_api_url
    intl = target(runtime, endpoint_url="https://dashscope-intl.aliyuncs.com")
    assert tts.build_speech_socket(intl, request).url == "wss://dashscope-intl.aliyuncs.com/api-ws/v1/inference"


def test_cosyvoice_frames_equal_the_sdks_field_by_field(runtime) -> None:
    sdk = SDKRequest(SECRET, "cosyvoice-v2", "longwan_v2", format="mp3", sample_rate=22050, volume=50)
    request = SpeechRequest("你好，世界", voice="longwan_v2", format="mp3")
    (run,) = frames_of(tts.build_speech_socket(target(runtime), request, task_id=sdk.task_id))
    expected = orjson.loads(sdk.get_start_request())
    for sdk_only in ("seed", "type"):  # the SDK's defaults (0), which the server assumes when absent
        del expected["payload"]["parameters"][sdk_only]
    assert run == expected

    parser = tts.DashScopeSpeech(target(runtime), request)
    step = parser.feed(event("task-started", sdk.task_id))
    assert [orjson.loads(frame) for frame in step.send] == [
        orjson.loads(sdk.get_continue_request("你好，世界")),
        orjson.loads(sdk.get_finish_request()),
    ]


def test_long_text_goes_in_several_continue_frames(runtime) -> None:
    request = SpeechRequest("字" * 4500)
    step = tts.DashScopeSpeech(target(runtime), request).feed(event("task-started", "t1"))
    sent = [orjson.loads(frame) for frame in step.send]
    assert [frame["header"]["action"] for frame in sent] == ["continue-task"] * 3 + ["finish-task"]
    assert "".join(frame["payload"]["input"]["text"] for frame in sent[:3]) == request.text


def test_sambert_sends_the_text_in_run_task_streaming_out(runtime) -> None:
    request = SpeechRequest("Hi", format="wav", speed=1.5)
    (run,) = frames_of(tts.build_speech_socket(target(runtime, "sambert-zhichu-v1"), request, task_id="t1"))
    assert run["header"] == {"action": "run-task", "task_id": "t1", "streaming": "out"}
    assert run["payload"]["input"] == {"text": "Hi"}
    assert run["payload"]["parameters"] == {"text_type": "PlainText", "format": "wav", "volume": 50, "rate": 1.5}
    assert (
        tts.DashScopeSpeech(target(runtime, "sambert-zhichu-v1"), request).feed(event("task-started", "t1")).send == ()
    )


def test_events_and_binary_frames(runtime) -> None:
    parser = tts.DashScopeSpeech(target(runtime), SpeechRequest("Hi"))
    assert parser.feed(b"\x00\x01").audio == b"\x00\x01"
    assert parser.feed(event("result-generated", "t1", {"output": {"sentence": {}}})).audio == b""
    assert not parser.finished
    parser.feed(event("task-finished", "t1", {"usage": {"characters": 2}}))
    assert parser.finished


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("InvalidApiKey", UpstreamAuthError),
        ("Throttling.RateQuota", UpstreamRateLimitError),
        ("Arrearage", ProviderQuotaExhaustedError),
        ("InvalidParameter", UpstreamBadRequestError),
        ("DataInspectionFailed", ContentFilteredError),
    ],
)
def test_task_failed_events_map_to_errors(runtime, code: str, error: type[UpstreamError]) -> None:
    parser = tts.DashScopeSpeech(target(runtime), SpeechRequest("Hi"))
    with pytest.raises(error) as caught:
        parser.feed(event("task-failed", "t1", error_code=code, error_message=f"{code} happened"))
    assert caught.value.vendor_code == code


# --- through the runtime and the fake ---------------------------------------------------------------------------


async def test_cosyvoice_speaks_through_the_socket(runtime, fake) -> None:
    speech = await runtime.invoke_speech(
        target(runtime, base_url=fake.url, workspace_id="llm-ws1"), SpeechRequest("Hello there", voice="longhua_v2")
    )
    assert speech.media_type == "audio/mpeg"
    assert await speech.read() == AUDIO_HEADER + b"Hello there"
    assert fake.speech.texts == ["Hello there"]
    handshake = fake.last
    assert handshake.path == "/api-ws/v1/inference"
    assert handshake.headers["authorization"] == f"Bearer {SECRET}"
    assert handshake.headers["x-dashscope-workspace"] == "llm-ws1"
    assert handshake.json["payload"]["parameters"]["voice"] == "longhua_v2"


async def test_sambert_speaks_through_the_socket(runtime, fake) -> None:
    speech = await runtime.invoke_speech(target(runtime, "sambert-zhiwei-v1", base_url=fake.url), SpeechRequest("Hi"))
    assert await speech.read() == AUDIO_HEADER + b"Hi"
    assert fake.last.json["header"]["streaming"] == "out"


async def test_a_failed_task_raises_before_the_audio_is_handed_out(runtime, fake) -> None:
    fake.speech.fail("Throttling.RateQuota", "Requests rate limit exceeded")
    with pytest.raises(UpstreamRateLimitError, match="rate limit exceeded"):
        await runtime.invoke_speech(target(runtime, base_url=fake.url), SpeechRequest("Hi"))


async def test_a_refused_key_is_an_auth_error(runtime, fake) -> None:
    with pytest.raises(UpstreamAuthError):
        await runtime.invoke_speech(target(runtime, base_url=fake.url, api_key="sk-not-known"), SpeechRequest("Hi"))
    assert fake.requests == []  # refused at the handshake


async def test_a_voice_of_another_model_is_refused_before_any_io(runtime, fake) -> None:
    with pytest.raises(InvalidRequestError, match="voice"):
        await runtime.invoke_speech(target(runtime, base_url=fake.url), SpeechRequest("Hi", voice="longwan"))
    assert fake.requests == []


async def test_a_stalled_synthesis_times_out(fake) -> None:
    fake.speech.stall(5)
    async with Runtime(timeouts=Timeouts(first_byte_s=2, idle_s=0.3, total_s=10)) as runtime:
        speech = await runtime.invoke_speech(target(runtime, base_url=fake.url), SpeechRequest("Hi"))
        with pytest.raises(UpstreamTimeoutError, match="next frame"):
            await speech.read()


# --- the vendor's SDK reads our fake ----------------------------------------------------------------------------


def socket_of(fake: Any) -> str:
    return "ws" + fake.url.removeprefix("http") + tts.SOCKET_PATH


async def test_the_sdks_cosyvoice_synthesizer_reads_the_fake_and_sends_what_we_send(runtime, fake, monkeypatch) -> None:
    monkeypatch.setattr(dashscope, "api_key", SECRET)
    synthesizer = SpeechSynthesizer(
        model="cosyvoice-v2", voice="longxiaochun_v2", format=AudioFormat.MP3_22050HZ_MONO_256KBPS, url=socket_of(fake)
    )
    audio = await asyncio.to_thread(synthesizer.call, "Hello from the SDK")
    await asyncio.to_thread(synthesizer.thread.join, 5)  # its receiver thread owns the socket until it ends
    del synthesizer
    with warnings.catch_warnings():  # websocket-client's close can race its receiver thread and drop the socket
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    assert audio == AUDIO_HEADER + b"Hello from the SDK"
    sdk_frames = list(fake.speech.frames)

    fake.speech.frames.clear()
    ours = await runtime.invoke_speech(target(runtime, base_url=fake.url), SpeechRequest("Hello from the SDK"))
    assert await ours.read() == audio
    our_frames = list(fake.speech.frames)
    assert [f["header"]["action"] for f in our_frames] == [f["header"]["action"] for f in sdk_frames]
    for sdk_frame, our_frame in zip(sdk_frames, our_frames, strict=True):
        sdk_frame["header"]["task_id"] = our_frame["header"]["task_id"]
        # The SDK's defaults: seed and type 0 (assumed when absent), and SSML parsing on, which plain text
        # (`text_type: PlainText`) must not get.
        for sdk_only in ("seed", "type", "enable_ssml"):
            sdk_frame["payload"].get("parameters", {}).pop(sdk_only, None)
        assert our_frame == sdk_frame


async def test_the_sdks_sambert_synthesizer_reads_the_fake(fake, monkeypatch) -> None:
    monkeypatch.setattr(dashscope, "api_key", SECRET)
    monkeypatch.setattr(dashscope, "base_websocket_api_url", socket_of(fake))
    result = await asyncio.to_thread(SambertSynthesizer.call, model="sambert-zhichu-v1", text="Hi there", format="mp3")
    assert result.get_audio_data() == AUDIO_HEADER + b"Hi there"
    assert [sentence["text"] for sentence in result.get_timestamps()] == ["Hi there"]
    (run,) = fake.speech.frames
    assert run["header"]["streaming"] == "out" and run["payload"]["input"] == {"text": "Hi there"}
