"""The one seam where upstream I/O happens: a pooled aiohttp session, four timeouts, and error translation.

aiohttp rather than httpx: measured here on one core (2026-11), an aiohttp client relays ≈ 7,200 req/s and an
httpx client ≈ 260 req/s at 64 connections.

Every connection the session opens (HTTP calls, WebSockets, token exchanges) passes the upstream address policy on
the addresses it is about to dial, after resolution: a name that resolves to a refused address is refused however
it resolved a moment before (no DNS-rebinding window). The session ignores HTTP(S)_PROXY (aiohttp's `trust_env` is
off), so every connection is direct and the address checked is the upstream's own, or the proxy's when a provider's
credentials name one (a Bedrock proxy URL): then the proxy is what is dialled, and what lies behind it is the proxy's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.tracing import Trace

from modelyard._version import __version__
from modelyard.errors import UpstreamConnectionError, UpstreamProtocolError, UpstreamTimeoutError
from modelyard.protocols.base import Multipart, UpstreamRequest
from modelyard.protocols.eventstream import EventStreamDecoder, EventStreamError
from modelyard.protocols.sse import NDJSONDecoder, ServerSentEvent, SSEDecoder
from modelyard.runtime.address_policy import UpstreamPolicy
from modelyard.runtime.timeouts import Timeouts as Timeouts  # re-exported: the runtime imports it from here

_ERROR_BODY_LIMIT = 64 * 1024  # an error page is read for its message, never in full


class PolicedConnector(aiohttp.TCPConnector):
    """A TCPConnector that lets the upstream address policy pick, from a host's addresses, those it may dial.

    The hook is `_resolve_host`, not a custom resolver: aiohttp (3.14, connector.py) never hands an IP-literal host
    to the resolver, and this one method sees literals, fresh resolutions and DNS-cache hits alike, right before
    the connection is made to what it returns.
    """

    def __init__(self, policy: UpstreamPolicy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy = policy

    async def _resolve_host(self, host: str, port: int, traces: Sequence[Trace] | None = None) -> list[ResolveResult]:
        resolved = await super()._resolve_host(host, port, traces=traces)
        return self.policy.admit(host, port, resolved, address=_address_of)


def _address_of(resolved: ResolveResult) -> str:
    return resolved["host"]


if not callable(getattr(aiohttp.TCPConnector, "_resolve_host", None)):  # fail loudly, never connect unchecked
    raise ImportError("this aiohttp has no TCPConnector._resolve_host, which the upstream address policy hooks")


class Transport:
    """One shared `aiohttp.ClientSession` per event loop: made on first use, closed by `close()`."""

    def __init__(
        self,
        timeouts: Timeouts | None = None,
        *,
        connection_limit: int = 1024,
        policy: UpstreamPolicy | None = None,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self.timeouts = timeouts or Timeouts()
        self.policy = policy or UpstreamPolicy()
        self._connection_limit = connection_limit
        self._resolver = resolver  # the name resolver (aiohttp's default when None); tests inject one
        self._session: aiohttp.ClientSession | None = None
        self._client_timeout = aiohttp.ClientTimeout(
            total=None, connect=self.timeouts.connect_s, sock_connect=self.timeouts.connect_s
        )

    def session(self) -> aiohttp.ClientSession:
        """The one pooled session (made on first use): HTTP calls and WebSockets share its connector and limits."""
        session = self._session
        if session is None or session.closed:
            connector = PolicedConnector(
                self.policy, resolver=self._resolver, limit=self._connection_limit, ttl_dns_cache=300
            )
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._client_timeout,
                headers={"User-Agent": f"modelyard/{__version__}"},
                skip_auto_headers=("Accept-Encoding",),  # compressed SSE arrives in bursts, and JSON is small
            )
            self._session = session
        return session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.timeouts.total_s

    async def open(
        self, request: UpstreamRequest, *, provider: str, deadline: float, wait_s: float | None = None
    ) -> aiohttp.ClientResponse:
        """Send the request and wait for the response headers (the first byte), at most `wait_s` when given (a
        credential's own timeout) instead of the process-wide first-byte timeout."""
        loop = asyncio.get_running_loop()
        data = _form(request.body) if isinstance(request.body, Multipart) else request.body
        try:
            async with asyncio.timeout_at(min(loop.time() + (wait_s or self.timeouts.first_byte_s), deadline)):
                return await self.session().request(
                    request.method,
                    request.url,
                    headers=request.headers,
                    data=data,
                    allow_redirects=False,
                    proxy=request.proxy,  # the policy then judges the proxy's address: that is what is dialled
                )
        except TimeoutError as exc:
            raise UpstreamTimeoutError(_timeout_message(loop, deadline, "first byte"), provider=provider) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamConnectionError(f"connection failed: {_describe(exc)}", provider=provider) from exc

    async def read(self, response: aiohttp.ClientResponse, *, provider: str, deadline: float) -> bytes:
        """The whole body; the connection goes back to the pool when it is read, and is closed otherwise."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(deadline):
                body = await response.read()
        except TimeoutError as exc:
            response.close()
            raise UpstreamTimeoutError(_timeout_message(loop, deadline, "body"), provider=provider) from exc
        except aiohttp.ClientError as exc:
            response.close()
            raise UpstreamConnectionError(f"connection broke: {_describe(exc)}", provider=provider) from exc
        except BaseException:
            response.close()  # cancelled: do not return a half-read connection to the pool
            raise
        response.release()
        return body

    async def read_error_body(self, response: aiohttp.ClientResponse, *, deadline: float) -> bytes:
        try:
            async with asyncio.timeout_at(min(deadline, asyncio.get_running_loop().time() + 10)):
                return await response.content.read(_ERROR_BODY_LIMIT)
        except (TimeoutError, aiohttp.ClientError):
            return b""
        finally:
            response.close()

    async def chunks(
        self, response: aiohttp.ClientResponse, *, provider: str, deadline: float, idle_s: float | None = None
    ) -> AsyncGenerator[bytes, None]:
        """Body bytes as they arrive, each read bounded by the idle timeout (or `idle_s`, a credential's own);
        closes the upstream when abandoned."""
        loop = asyncio.get_running_loop()
        idle_s = idle_s or self.timeouts.idle_s
        content = response.content
        completed = False
        try:
            while True:
                try:
                    async with asyncio.timeout_at(min(loop.time() + idle_s, deadline)):
                        chunk = await content.readany()
                except TimeoutError as exc:
                    raise UpstreamTimeoutError(
                        _timeout_message(loop, deadline, "next chunk"), provider=provider
                    ) from exc
                except aiohttp.ClientError as exc:
                    raise UpstreamConnectionError(f"stream broke: {_describe(exc)}", provider=provider) from exc
                if not chunk:
                    completed = True
                    return
                yield chunk
        finally:
            if completed:
                response.release()
            else:  # cancelled, failed or abandoned mid-stream: drop the connection so the upstream stops
                response.close()

    async def events(
        self,
        response: aiohttp.ClientResponse,
        *,
        framing: str,
        provider: str,
        deadline: float,
        idle_s: float | None = None,
    ) -> AsyncGenerator[list[ServerSentEvent], None]:
        """Decoded events, one list per read from the upstream (events that arrived together stay together)."""
        decoder = _DECODERS[framing]()
        chunks = self.chunks(response, provider=provider, deadline=deadline, idle_s=idle_s)
        try:
            async for chunk in chunks:
                try:
                    events = decoder.feed(chunk)
                except EventStreamError as exc:
                    raise UpstreamProtocolError(f"unreadable stream: {exc}", provider=provider) from exc
                if events:
                    yield events
            try:
                events = decoder.flush()
            except EventStreamError as exc:
                raise UpstreamProtocolError(f"unreadable stream: {exc}", provider=provider) from exc
            if events:
                yield events
        finally:
            await chunks.aclose()


async def decoded(body: bytes, *, framing: str, provider: str) -> AsyncGenerator[list[ServerSentEvent], None]:
    """The events of a stream's body read whole, as `Transport.events` would have yielded them."""
    decoder = _DECODERS[framing]()
    try:
        events = decoder.feed(body) + decoder.flush()
    except EventStreamError as exc:
        raise UpstreamProtocolError(f"unreadable stream: {exc}", provider=provider) from exc
    if events:
        yield events


_DECODERS: dict[str, type[SSEDecoder] | type[NDJSONDecoder] | type[EventStreamDecoder]] = {
    "sse": SSEDecoder,
    "ndjson": NDJSONDecoder,
    "aws-eventstream": EventStreamDecoder,
}


def _form(body: Multipart) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in body.fields.items():
        form.add_field(name, value)
    for name, file in body.files.items():
        form.add_field(name, file.content, filename=file.filename, content_type=file.content_type)
    return form


def _timeout_message(loop: asyncio.AbstractEventLoop, deadline: float, waiting_for: str) -> str:
    if loop.time() >= deadline - 0.001:
        return "the call exceeded its total time limit"
    return f"timed out waiting for the {waiting_for}"


def _describe(exc: BaseException) -> str:
    # aiohttp messages can carry the URL; keep the class and the OS reason, which never hold a secret
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"{type(exc).__name__}: {exc.os_error.strerror or exc.os_error}"
    return type(exc).__name__ + (f": {exc}" if isinstance(exc, aiohttp.ClientPayloadError) else "")
