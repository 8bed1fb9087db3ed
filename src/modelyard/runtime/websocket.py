"""WebSocket upstreams: the I/O for the exchanges protocols ask for with a WebSocketRequest.

The socket opens on the runtime's one aiohttp session and keeps the HTTP timeouts: the handshake and the first
frame within the first-byte limit, each later frame within the idle limit, all of it within the total. Closing
the generators (a caller that went away) closes the socket, so the upstream stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Mapping

import aiohttp

from modelyard.errors import UpstreamConnectionError, UpstreamError, UpstreamProtocolError, UpstreamTimeoutError
from modelyard.protocols.base import ChatStreamParser, Frame, SpeechFrameParser, WebSocketRequest
from modelyard.protocols.sse import ServerSentEvent
from modelyard.runtime.transport import Transport

_CLOSE_WAIT_S = 2.0  # how long a goodbye may take before the connection is simply dropped
_FRAME_LIMIT = 16 * 1024 * 1024

# The provider's error for a refused handshake: (HTTP status, headers) -> error.
RefusalMapper = Callable[[int, Mapping[str, str]], UpstreamError]


class Socket:
    """One open WebSocket exchange: send frames, receive them under the timeouts, close."""

    def __init__(
        self, ws: aiohttp.ClientWebSocketResponse, transport: Transport, *, provider: str, deadline: float
    ) -> None:
        self._ws = ws
        self._timeouts = transport.timeouts
        self.provider = provider
        self._deadline = deadline
        self._received = False

    async def send(self, frame: str) -> None:
        try:
            await self._ws.send_str(frame)
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise UpstreamConnectionError(f"the socket broke: {type(exc).__name__}", provider=self.provider) from exc

    async def receive(self) -> Frame | None:
        """The next text or binary frame; None when the upstream closed the socket."""
        loop = asyncio.get_running_loop()
        wait_s = self._timeouts.idle_s if self._received else self._timeouts.first_byte_s
        try:
            async with asyncio.timeout_at(min(loop.time() + wait_s, self._deadline)):
                message = await self._ws.receive()
        except TimeoutError as exc:
            waiting_for = "next frame" if self._received else "first frame"
            total = loop.time() >= self._deadline - 0.001
            message_text = (
                "the call exceeded its total time limit" if total else f"timed out waiting for the {waiting_for}"
            )
            raise UpstreamTimeoutError(message_text, provider=self.provider) from exc
        self._received = True
        if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            return message.data  # type: ignore[no-any-return]
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
            return None
        error = self._ws.exception()
        detail = type(error).__name__ if error is not None else message.type.name
        raise UpstreamConnectionError(f"the socket broke: {detail}", provider=self.provider)

    async def close(self) -> None:
        if self._ws.closed:
            return
        try:
            async with asyncio.timeout(_CLOSE_WAIT_S):
                await self._ws.close()
        except (TimeoutError, aiohttp.ClientError, ConnectionError):
            pass  # aiohttp drops the connection when the close handshake does not finish


async def connect(
    transport: Transport, request: WebSocketRequest, *, provider: str, deadline: float, refused: RefusalMapper
) -> Socket:
    """Open the socket (a signed request) and send its opening frames."""
    loop = asyncio.get_running_loop()
    session = transport.session()
    try:
        async with asyncio.timeout_at(min(loop.time() + transport.timeouts.first_byte_s, deadline)):
            ws = await session.ws_connect(
                request.url,
                headers=request.headers,
                autoping=True,
                max_msg_size=_FRAME_LIMIT,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=_CLOSE_WAIT_S),
            )
    # Not chained (`from None`): aiohttp's errors carry the URL, and a signed URL's query can hold a key id.
    except aiohttp.WSServerHandshakeError as exc:
        raise refused(exc.status, dict(exc.headers or {})) from None
    except TimeoutError:
        raise UpstreamTimeoutError("timed out waiting for the socket to open", provider=provider) from None
    except aiohttp.ClientError as exc:
        raise UpstreamConnectionError(f"connection failed: {_describe(exc)}", provider=provider) from None
    socket = Socket(ws, transport, provider=provider, deadline=deadline)
    try:
        for frame in request.frames:
            await socket.send(frame)
    except BaseException:
        await socket.close()
        raise
    return socket


async def open_chat(socket: Socket, probe: ChatStreamParser) -> AsyncGenerator[list[ServerSentEvent], None]:
    """The chat's frames as events, one per frame; the first is read (and checked with `probe`) before returning.

    Reading ahead makes an error frame at the start raise here, as an HTTP error status would, so retries and
    fail-over still happen before the caller sees a byte.
    """
    try:
        first = await socket.receive()
        if first is None:
            raise UpstreamProtocolError("the socket closed before any answer", provider=socket.provider)
        probe.feed(_event(first))
    except BaseException:
        await socket.close()
        raise
    return _chat_events(socket, first)


async def _chat_events(socket: Socket, first: Frame) -> AsyncGenerator[list[ServerSentEvent], None]:
    # The reader stops at the parser's end marker and closes this generator, so a socket that closes first
    # cut the answer short.
    try:
        frame: Frame | None = first
        while frame is not None:
            yield [_event(frame)]
            frame = await socket.receive()
        raise UpstreamProtocolError("the socket closed before the answer was finished", provider=socket.provider)
    finally:
        await socket.close()


def _event(frame: Frame) -> ServerSentEvent:
    return ServerSentEvent(frame.encode() if isinstance(frame, str) else frame)


async def open_speech(socket: Socket, parser: SpeechFrameParser, *, provider: str) -> AsyncGenerator[bytes, None]:
    """The audio of a speech exchange; read up to its first audio (or its end) before returning, as `open_chat`."""
    audio = _speech_audio(socket, parser, provider)
    try:
        first = await anext(audio, b"")
    except BaseException:
        await audio.aclose()
        raise
    return _prepend(first, audio)


async def _speech_audio(socket: Socket, parser: SpeechFrameParser, provider: str) -> AsyncGenerator[bytes, None]:
    try:
        while not parser.finished:
            frame = await socket.receive()
            if frame is None:
                raise UpstreamProtocolError("the socket closed before the speech was finished", provider=provider)
            step = parser.feed(frame)
            for reply in step.send:
                await socket.send(reply)
            if step.audio:
                yield step.audio
    finally:
        await socket.close()


async def _prepend(first: bytes, rest: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    try:
        if first:
            yield first
        async for chunk in rest:
            yield chunk
    finally:
        await rest.aclose()


def _describe(exc: BaseException) -> str:
    # aiohttp messages can carry the URL, and a signed URL holds a signature: keep the class and the OS reason
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"{type(exc).__name__}: {exc.os_error.strerror or exc.os_error}"
    return type(exc).__name__
