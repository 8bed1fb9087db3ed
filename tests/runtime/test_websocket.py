"""The WebSocket runtime against a small aiohttp WebSocket upstream: frames, timeouts, errors, and closing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from modelyard.errors import (
    UpstreamConnectionError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
)
from modelyard.protocols.base import ChatStreamParser, Frame, SpeechFrameParser, SpeechStep, WebSocketRequest
from modelyard.protocols.sse import ServerSentEvent
from modelyard.runtime import websocket
from modelyard.runtime.transport import Timeouts, Transport
from modelyard.types import ChatChunk
from tests.support import eventually

Handler = Callable[[web.WebSocketResponse], Awaitable[None]]


class Upstream:
    """One WebSocket route; each test sets `handler`. Records what it received and when the client went away."""

    def __init__(self) -> None:
        self.handler: Handler = self._echo
        self.received: list[Frame] = []
        self.client_closed = asyncio.Event()
        self.refuse: web.Response | None = None
        self.app = web.Application()
        self.app.router.add_get("/socket", self._socket)
        self.url = ""

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        if self.refuse is not None:
            return self.refuse
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await self.handler(ws)
        return ws

    async def _echo(self, ws: web.WebSocketResponse) -> None:
        await self.receive(ws)
        await ws.send_str("echo:" + str(self.received[-1]))

    async def receive(self, ws: web.WebSocketResponse) -> aiohttp.WSMessage:
        message = await ws.receive()
        if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            self.received.append(message.data)
        elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            self.client_closed.set()
        return message

    async def wait_for_close(self, ws: web.WebSocketResponse) -> None:
        while not self.client_closed.is_set():
            message = await self.receive(ws)
            if message.type == aiohttp.WSMsgType.ERROR:
                self.client_closed.set()


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    fake = Upstream()
    server = TestServer(fake.app, host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("/socket")).replace("http://", "ws://")
    try:
        yield fake
    finally:
        await server.close()


@pytest.fixture
async def transport() -> AsyncIterator[Transport]:
    transport = Transport(Timeouts(connect_s=2, first_byte_s=0.3, idle_s=0.3, total_s=5))
    try:
        yield transport
    finally:
        await transport.close()


def refused(status: int, headers: object) -> UpstreamError:
    return UpstreamRateLimitError(f"refused with {status}", provider="fake", retry_after_s=7)


async def connect(transport: Transport, upstream: Upstream, *frames: str) -> websocket.Socket:
    request = WebSocketRequest(upstream.url, {}, frames)
    return await websocket.connect(transport, request, provider="fake", deadline=transport.deadline(), refused=refused)


class Lines(ChatStreamParser):
    """Each text frame is a chunk; `stop` ends the stream; `fail` is an error frame."""

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        if event.data == b"fail":
            raise UpstreamRateLimitError("slow down", provider="fake")
        if event.data == b"stop":
            self.finished = True
            return None
        return ChatChunk(content=event.data.decode())


async def test_the_opening_frames_are_sent_in_order_and_the_answer_read(transport, upstream) -> None:
    async def handler(ws: web.WebSocketResponse) -> None:
        await upstream.receive(ws)
        await upstream.receive(ws)
        await ws.send_str("text answer")
        await ws.send_bytes(b"\x00binary")

    upstream.handler = handler
    socket = await connect(transport, upstream, "first", "second")
    assert [await socket.receive(), await socket.receive(), await socket.receive()] == [
        "text answer",
        b"\x00binary",
        None,  # the upstream closed the socket
    ]
    assert upstream.received == ["first", "second"]
    await socket.close()


async def test_a_refused_handshake_is_mapped_by_the_protocol(transport, upstream) -> None:
    upstream.refuse = web.json_response({"message": "too many"}, status=429, headers={"Retry-After": "7"})
    with pytest.raises(UpstreamRateLimitError, match="refused with 429"):
        await connect(transport, upstream)


async def test_no_listener_is_a_connection_error(transport) -> None:
    request = WebSocketRequest("ws://127.0.0.1:9/socket", {}, ())
    with pytest.raises(UpstreamConnectionError):
        await websocket.connect(transport, request, provider="fake", deadline=transport.deadline(), refused=refused)


async def test_a_silent_upstream_times_out_waiting_for_the_first_frame(transport, upstream) -> None:
    upstream.handler = upstream.wait_for_close
    socket = await connect(transport, upstream, "hello")
    with pytest.raises(UpstreamTimeoutError, match="first frame"):
        await websocket.open_chat(socket, Lines())
    await asyncio.wait_for(upstream.client_closed.wait(), 2)  # the failed open closed the socket


async def test_a_stalled_stream_times_out_waiting_for_the_next_frame(transport, upstream) -> None:
    async def handler(ws: web.WebSocketResponse) -> None:
        await ws.send_str("one")
        await upstream.wait_for_close(ws)

    upstream.handler = handler
    events = await websocket.open_chat(await connect(transport, upstream), Lines())
    assert await anext(events) == [ServerSentEvent(b"one")]
    with pytest.raises(UpstreamTimeoutError, match="next frame"):
        await anext(events)
    await asyncio.wait_for(upstream.client_closed.wait(), 2)


async def test_the_total_limit_bounds_a_stream_that_keeps_talking(upstream) -> None:
    async def handler(ws: web.WebSocketResponse) -> None:
        while not ws.closed:
            await ws.send_str("tick")
            await asyncio.sleep(0.05)

    upstream.handler = handler
    transport = Transport(Timeouts(first_byte_s=1, idle_s=1, total_s=0.4))
    try:
        events = await websocket.open_chat(await connect(transport, upstream), Lines())
        with pytest.raises(UpstreamTimeoutError, match="total time limit"):
            async for _ in events:
                pass
    finally:
        await transport.close()


async def test_an_error_frame_first_raises_at_open_and_closes_the_socket(transport, upstream) -> None:
    async def handler(ws: web.WebSocketResponse) -> None:
        await ws.send_str("fail")
        await upstream.wait_for_close(ws)

    upstream.handler = handler
    with pytest.raises(UpstreamRateLimitError, match="slow down"):
        await websocket.open_chat(await connect(transport, upstream), Lines())
    await asyncio.wait_for(upstream.client_closed.wait(), 2)


async def test_closing_the_stream_early_closes_the_socket(transport, upstream) -> None:
    async def handler(ws: web.WebSocketResponse) -> None:
        await ws.send_str("one")
        await upstream.wait_for_close(ws)

    upstream.handler = handler
    events = await websocket.open_chat(await connect(transport, upstream), Lines())
    assert await anext(events) == [ServerSentEvent(b"one")]
    await events.aclose()
    await asyncio.wait_for(upstream.client_closed.wait(), 2)


async def test_cancelling_the_reader_closes_the_socket(transport, upstream) -> None:
    async def handler(ws: web.WebSocketResponse) -> None:
        await ws.send_str("one")
        await upstream.wait_for_close(ws)

    upstream.handler = handler
    slow = Transport(Timeouts(first_byte_s=5, idle_s=5, total_s=10))
    try:
        events = await websocket.open_chat(await connect(slow, upstream), Lines())

        read: list[object] = []

        async def read_all() -> None:
            async for event in events:
                read.append(event)

        reader = asyncio.create_task(read_all())
        await eventually(lambda: read, "the reader to take the first frame")  # then it waits for one that never comes
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        await asyncio.wait_for(upstream.client_closed.wait(), 2)
    finally:
        await slow.close()


class Duplex(SpeechFrameParser):
    """A task protocol in miniature: send the text once `started` arrives, audio comes binary, `done` ends it."""

    def feed(self, frame: Frame) -> SpeechStep:
        if isinstance(frame, bytes):
            return SpeechStep(audio=frame)
        if frame == "started":
            return SpeechStep(send=("text:Hi", "finish"))
        if frame == "failed":
            raise UpstreamRateLimitError("task failed", provider="fake")
        if frame == "done":
            self.finished = True
        return SpeechStep()


async def test_speech_answers_frames_and_collects_binary_audio(transport, upstream) -> None:
    async def handler(ws: web.WebSocketResponse) -> None:
        await upstream.receive(ws)  # run
        await ws.send_str("started")
        await upstream.receive(ws)  # text
        await upstream.receive(ws)  # finish
        await ws.send_bytes(b"ID3")
        await ws.send_bytes(b"audio")
        await ws.send_str("done")
        await upstream.wait_for_close(ws)

    upstream.handler = handler
    audio = await websocket.open_speech(await connect(transport, upstream, "run"), Duplex(), provider="fake")
    assert b"".join([chunk async for chunk in audio]) == b"ID3audio"
    assert upstream.received == ["run", "text:Hi", "finish"]
    await asyncio.wait_for(upstream.client_closed.wait(), 2)


async def test_a_failed_speech_task_raises_before_any_audio(transport, upstream) -> None:
    async def handler(ws: web.WebSocketResponse) -> None:
        await ws.send_str("failed")
        await upstream.wait_for_close(ws)

    upstream.handler = handler
    with pytest.raises(UpstreamRateLimitError, match="task failed"):
        await websocket.open_speech(await connect(transport, upstream, "run"), Duplex(), provider="fake")
    await asyncio.wait_for(upstream.client_closed.wait(), 2)


async def test_a_socket_closed_mid_speech_is_a_protocol_error(transport, upstream) -> None:
    async def handler(ws: web.WebSocketResponse) -> None:
        await ws.send_bytes(b"half")

    upstream.handler = handler
    audio = await websocket.open_speech(await connect(transport, upstream, "run"), Duplex(), provider="fake")
    with pytest.raises(UpstreamProtocolError):
        async for _ in audio:
            pass


async def test_a_socket_closed_before_any_frame_is_a_protocol_error(transport, upstream) -> None:
    async def handler(ws: web.WebSocketResponse) -> None:
        await upstream.receive(ws)

    upstream.handler = handler
    with pytest.raises(UpstreamProtocolError, match="before any answer"):
        await websocket.open_chat(await connect(transport, upstream, "hello"), Lines())


async def test_a_socket_closed_before_the_end_marker_cuts_the_answer_short(transport, upstream) -> None:
    async def handler(ws: web.WebSocketResponse) -> None:
        await ws.send_str("one")

    upstream.handler = handler
    events = await websocket.open_chat(await connect(transport, upstream), Lines())
    assert await anext(events) == [ServerSentEvent(b"one")]
    with pytest.raises(UpstreamProtocolError, match="before the answer was finished"):
        await anext(events)
