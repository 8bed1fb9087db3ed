"""DashScope speech synthesis (CosyVoice, Sambert) over its WebSocket task protocol, as the SDK 2.0.2 runs it.

One task per socket at `{root}/api-ws/v1/inference`: the client sends `run-task`; after the server's
`task-started`, CosyVoice (`streaming: duplex`) takes the text in `continue-task` frames and a `finish-task`,
while Sambert (`streaming: out`, the voice in the model name) takes the whole text in `run-task`. Audio comes
back as binary frames, `result-generated` events between them, and `task-finished` or `task-failed` at the end.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

import orjson

from modelyard.errors import UpstreamProtocolError
from modelyard.protocols.base import Frame, SpeechFrameParser, SpeechStep, Target, WebSocketRequest
from modelyard.protocols.dashscope import requests, responses
from modelyard.protocols.openai.responses import reading
from modelyard.types import SpeechRequest

SOCKET_PATH = "/api-ws/v1/inference"
TEXT_FRAME_LIMIT = 2000  # characters per continue-task (an assumption in tongyi.yaml)
COSYVOICE_SAMPLE_RATE = 22050  # CosyVoice's native rate; mp3, wav, pcm and opus all take it (SDK AudioFormat)


def is_duplex(target: Target) -> bool:
    """CosyVoice streams text in and audio out; Sambert takes the whole text at once."""
    return not target.upstream_model.startswith("sambert")


def socket_url(target: Target) -> str:
    root = urlsplit(requests.root(target))
    scheme = "ws" if root.scheme in ("http", "ws") else "wss"
    return f"{scheme}://{root.netloc}{SOCKET_PATH}"


def build_speech_socket(target: Target, request: SpeechRequest, *, task_id: str | None = None) -> WebSocketRequest:
    """The socket and its `run-task` frame; the parser sends the rest once the task has started."""
    task_id = task_id or uuid.uuid4().hex
    duplex = is_duplex(target)
    parameters: dict[str, Any] = {"text_type": "PlainText", "format": request.format, "volume": 50}
    if request.speed is not None:
        parameters["rate"] = min(max(request.speed, 0.5), 2.0)
    if duplex:
        parameters |= {"voice": _voice(target, request), "sample_rate": COSYVOICE_SAMPLE_RATE}
        parameters.setdefault("rate", 1.0)
        parameters["pitch"] = 1.0
    payload = {
        **_task(target),
        "input": {} if duplex else {"text": request.text},
        "parameters": parameters,
    }
    frame = {"header": _header("run-task", task_id, duplex), "payload": payload}
    return WebSocketRequest(socket_url(target), {}, (orjson.dumps(frame).decode(),))


def _voice(target: Target, request: SpeechRequest) -> str:
    properties = target.model.properties
    if request.voice:
        return request.voice
    if properties.default_voice:
        return properties.default_voice
    if properties.voices:
        return properties.voices[0].id
    raise UpstreamProtocolError("the model lists no voice to speak with", provider=target.provider.id)


def _task(target: Target) -> dict[str, str]:
    return {"model": target.upstream_model, "task_group": "audio", "task": "tts", "function": "SpeechSynthesizer"}


def _header(action: str, task_id: str, duplex: bool) -> dict[str, str]:
    return {"action": action, "task_id": task_id, "streaming": "duplex" if duplex else "out"}


class DashScopeSpeech(SpeechFrameParser):
    """The server's events and audio frames of one synthesis task."""

    __slots__ = ("_request", "_target", "finished")

    def __init__(self, target: Target, request: SpeechRequest) -> None:
        self._target = target
        self._request = request
        self.finished = False

    def feed(self, frame: Frame) -> SpeechStep:
        if isinstance(frame, bytes):
            return SpeechStep(audio=frame)
        with reading(self._target, "speech event"):
            header: dict[str, Any] = orjson.loads(frame)["header"]
            event = header["event"]
        if event == "task-failed":
            error = {"code": header.get("error_code"), "message": header.get("error_message")}
            raise responses.error_from_body(self._target, 200, {}, error, in_stream=True)
        if event == "task-finished":
            self.finished = True
        elif event == "task-started" and is_duplex(self._target):
            return SpeechStep(send=self._text_frames(str(header.get("task_id") or "")))
        return SpeechStep()

    def _text_frames(self, task_id: str) -> tuple[str, ...]:
        text = self._request.text
        pieces = [text[i : i + TEXT_FRAME_LIMIT] for i in range(0, len(text), TEXT_FRAME_LIMIT)]
        frames = [
            {
                "header": _header("continue-task", task_id, True),
                "payload": {**_task(self._target), "input": {"text": piece}},
            }
            for piece in pieces
        ]
        frames.append({"header": _header("finish-task", task_id, True), "payload": {"input": {}}})
        return tuple(orjson.dumps(frame).decode() for frame in frames)
