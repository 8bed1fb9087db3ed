"""DashScope's WebSocket inference route (`/api-ws/v1/inference`), for speech synthesis, added to a DashScope fake.

It runs the task protocol as the `dashscope` SDK 2.0.2 expects it: a bearer key on the handshake, then
`run-task` → `task-started`; for CosyVoice (`streaming: duplex`) `continue-task` text until `finish-task`; for
Sambert (`streaming: out`) the text in `run-task`. Audio goes out as binary frames between `result-generated`
events, then `task-finished` with the characters billed; or `task-failed` when a test asks for it. Each task
is recorded in the fake's `requests` (path, headers, and the run-task frame as `json`), so a test or the
catalog round trip reads the key off the handshake like any request.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import aiohttp
import orjson
from aiohttp import web

from tests.fakes.openai import Recorded
from tests.support import SECRET

SOCKET_PATH = "/api-ws/v1/inference"
AUDIO_HEADER = b"ID3\x04\x00\x00fake-mp3:"


class HasApp(Protocol):
    app: web.Application
    requests: list[Recorded]


def event(name: str, task_id: str, payload: dict[str, Any] | None = None, **header: Any) -> str:
    return orjson.dumps(
        {"header": {"task_id": task_id, "event": name, "attributes": {}, **header}, "payload": payload or {}}
    ).decode()


class SpeechRoute:
    """The route's state: queued failures and what each task sent, for tests to read."""

    def __init__(self, fake: HasApp, keys: frozenset[str] = frozenset({SECRET})) -> None:
        self._fake = fake
        self.keys = keys  # the API keys it accepts
        self.frames: list[dict[str, Any]] = []  # every text frame the client sent, in order
        self.texts: list[str] = []  # the text each task synthesized
        self.closed_early = 0  # tasks the client left before task-finished
        self._failures: list[tuple[str, str]] = []
        self._stalls: list[float] = []

    def fail(self, code: str, message: str) -> None:
        """Answer the next task's run-task with task-failed."""
        self._failures.append((code, message))

    def stall(self, seconds: float) -> None:
        """Start the next task, send one audio frame, then say nothing for this long."""
        self._stalls.append(seconds)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or key not in self.keys:
            return web.json_response({"code": "InvalidApiKey", "message": "Invalid API-key provided."}, status=401)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        run = await self._receive(ws)
        headers = {k.lower(): v for k, v in request.headers.items()}
        self._fake.requests.append(Recorded("GET", request.path, dict(request.query), headers, b"", run))
        try:
            await self._run(ws, run)
        except (ConnectionError, asyncio.CancelledError):
            self.closed_early += 1
            raise
        await ws.close()
        return ws

    async def _run(self, ws: web.WebSocketResponse, run: dict[str, Any] | None) -> None:
        header, payload = (run or {}).get("header") or {}, (run or {}).get("payload") or {}
        task_id = str(header.get("task_id") or "")
        problem = _refusal(header, payload)
        if problem is None and self._failures:
            problem = self._failures.pop(0)
        if problem is not None:
            await ws.send_str(event("task-failed", task_id, error_code=problem[0], error_message=problem[1]))
            return
        await ws.send_str(event("task-started", task_id))
        if self._stalls:
            await ws.send_bytes(AUDIO_HEADER)
            await asyncio.sleep(self._stalls.pop(0))
            return
        if header["streaming"] == "duplex":
            text = await self._duplex_text(ws, task_id)
            if text is None:
                return
        else:
            text = str(payload["input"]["text"])
        self.texts.append(text)
        sentence = {"sentence": {"begin_time": 0, "end_time": 80 * len(text), "text": text, "words": []}}
        await ws.send_str(event("result-generated", task_id, {"output": sentence}))
        await ws.send_bytes(AUDIO_HEADER)
        await ws.send_bytes(text.encode())
        # The last event repeats the sentence: the SDK's Sambert reader reads `output.sentence` off every event.
        await ws.send_str(event("task-finished", task_id, {"output": sentence, "usage": {"characters": len(text)}}))

    async def _duplex_text(self, ws: web.WebSocketResponse, task_id: str) -> str | None:
        pieces = []
        while True:
            frame = await self._receive(ws)
            if frame is None:
                self.closed_early += 1
                return None
            header = frame.get("header") or {}
            if header.get("task_id") != task_id:
                await ws.send_str(
                    event("task-failed", task_id, error_code="InvalidParameter", error_message="task_id mismatch")
                )
                return None
            if header.get("action") == "finish-task":
                return "".join(pieces)
            if header.get("action") != "continue-task":
                await ws.send_str(
                    event("task-failed", task_id, error_code="InvalidParameter", error_message="bad action")
                )
                return None
            pieces.append(str(frame["payload"]["input"]["text"]))

    async def _receive(self, ws: web.WebSocketResponse) -> dict[str, Any] | None:
        message = await ws.receive(timeout=30)
        if message.type != aiohttp.WSMsgType.TEXT:
            return None
        frame: dict[str, Any] = orjson.loads(message.data)
        self.frames.append(frame)
        return frame


def _refusal(header: dict[str, Any], payload: dict[str, Any]) -> tuple[str, str] | None:
    """What DashScope would refuse in a run-task frame, as (error code, message)."""
    if header.get("action") != "run-task" or not header.get("task_id"):
        return "InvalidParameter", "the first frame must be run-task with a task_id"
    task = (payload.get("task_group"), payload.get("task"), payload.get("function"))
    if task != ("audio", "tts", "SpeechSynthesizer") or not payload.get("model"):
        return "InvalidParameter", f"unknown task {task}"
    model, streaming = str(payload["model"]), header.get("streaming")
    if model.startswith("sambert"):
        if streaming != "out" or not (payload.get("input") or {}).get("text"):
            return "InvalidParameter", "sambert takes the text in run-task, streaming out"
    elif streaming != "duplex" or not (payload.get("parameters") or {}).get("voice"):
        return "InvalidParameter", "cosyvoice runs duplex and needs a voice"
    return None


def with_speech(fake: Any) -> Any:
    """`fake` with the speech route added (before it starts serving); its state is `fake.speech`."""
    fake.speech = SpeechRoute(fake)
    fake.app.router.add_get(SOCKET_PATH, fake.speech.handle)
    return fake
