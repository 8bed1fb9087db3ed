from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from msgspec.structs import replace

from modelyard.errors import ModelyardError, UpstreamConnectionError
from modelyard.protocols.base import ChatStreamParser
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import ChatChunk, ChatResult, ParameterAdjustment, ToolCall, ToolCallDelta, Usage
from modelyard.types.chat import FinishReason
from modelyard.types.usage import UNREPORTED


class ChatStream:
    """A streamed chat answer: iterate it for unified chunks; the last one carries finish reason and usage.

    The upstream connection is already open and its status checked when you get this object, so
    authorization and rate-limit errors surface before the first chunk. Closing it early (`aclose()`, or
    leaving `async with`) closes the upstream connection. A stream that ends before the answer did (no finish
    reason and no end marker: the connection was cut) raises UpstreamConnectionError, as a broken connection does.
    """

    def __init__(
        self,
        events: AsyncGenerator[list[ServerSentEvent], None],
        parser: ChatStreamParser,
        *,
        model: str,
        provider: str,
        started: float,
        finish_usage: Callable[[Usage | None, list[str], float, float | None], Usage],
    ) -> None:
        self.model = model
        self.provider = provider
        self.usage: Usage | None = None  # set once the stream is complete
        # Set when it failed or was closed after some of the answer arrived: what that part used (estimated where
        # the provider did not say), so it can be billed; None when nothing had arrived.
        self.partial_usage: Usage | None = None
        self.finish_reason: FinishReason | None = None
        self.adjusted_params: tuple[ParameterAdjustment, ...] = ()  # what the model's parameter rules changed
        self._events = events
        self._parser = parser
        self._started = started
        self._finish_usage = finish_usage
        self._done_callbacks: list[Callable[[ChatStream, BaseException | None], None]] = []
        self._batches = self._read_batches()
        self._chunks = self._iterate()

    def __aiter__(self) -> AsyncIterator[ChatChunk]:
        return self._chunks

    async def __anext__(self) -> ChatChunk:
        return await self._chunks.__anext__()

    def batches(self) -> AsyncIterator[list[ChatChunk]]:
        """The chunks grouped as they came off the wire: one list per upstream read.

        A relay writes each list at once, so events that arrived together leave together (one write, not one
        per event) at no cost in latency. Use either this or plain iteration, not both.
        """
        return self._batches

    async def __aenter__(self) -> ChatStream:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    def add_done_callback(self, callback: Callable[[ChatStream, BaseException | None], None]) -> None:
        """Call `callback(stream, error)` once when the stream ends, fails, or is closed early.

        `stream.usage` is set when it completed. Callbacks run synchronously inside the closing stream, so they
        must not block; schedule async work (accounting) as a task.
        """
        self._done_callbacks.append(callback)

    def _done(self, error: BaseException | None) -> None:
        callbacks, self._done_callbacks = self._done_callbacks, []
        for callback in callbacks:
            callback(self, error)

    async def aclose(self) -> None:
        await self._chunks.aclose()
        await self._batches.aclose()
        await self._events.aclose()
        self._done(None if self.usage is not None else GeneratorExit())  # closed before it was ever read

    async def _iterate(self) -> AsyncGenerator[ChatChunk, None]:
        async for batch in self._batches:
            for chunk in batch:
                yield chunk

    async def _read_batches(self) -> AsyncGenerator[list[ChatChunk], None]:
        parser = self._parser
        texts: list[str] = []  # kept only to estimate usage if the provider reports none
        reported: Usage | None = None
        held: ChatChunk | None = None  # the finish chunk waits for the usage that follows it
        first_token_s: float | None = None
        error: BaseException | None = None
        try:
            async for events in self._events:
                batch: list[ChatChunk] = []
                for event in events:
                    try:
                        chunk = parser.feed(event)
                    except ModelyardError:
                        if batch:  # what came before the error event still reaches the caller, first
                            yield batch
                        raise
                    if chunk is None:
                        if parser.finished:
                            break
                        continue
                    if chunk.usage is not None:
                        reported = chunk.usage
                        if not (chunk.content or chunk.reasoning or chunk.tool_calls or chunk.finish_reason):
                            continue
                        chunk = replace(chunk, usage=None)
                    if first_token_s is None and (chunk.content or chunk.reasoning or chunk.tool_calls):
                        first_token_s = time.perf_counter() - self._started
                    if chunk.content:
                        texts.append(chunk.content)
                    if held is not None:
                        batch.append(held)
                        held = None
                    if chunk.finish_reason is not None:
                        held = chunk
                        continue
                    batch.append(chunk)
                    if parser.finished:
                        break
                if batch:
                    yield batch
                if parser.finished:
                    break
            if not (parser.finished or held is not None or parser.finish_at_end is not None):
                # Neither the protocol's end marker nor a finish reason: a connection closed early (a body that
                # ends with the connection, a proxy's cut) looks like a clean end at the transport.
                raise UpstreamConnectionError("the stream ended before the answer was finished", provider=self.provider)
            latency_s = time.perf_counter() - self._started
            self.usage = self._finish_usage(reported, texts, latency_s, first_token_s)
            if held is None and parser.finish_at_end is not None:
                held = ChatChunk(finish_reason=parser.finish_at_end)
            self.finish_reason = held.finish_reason if held is not None else None
            yield [replace(held, usage=self.usage) if held is not None else ChatChunk(usage=self.usage)]
        except BaseException as exc:  # failed, cancelled, or closed early (GeneratorExit)
            error = exc
            if self.usage is None and (texts or first_token_s is not None or reported is not None):
                latency_s = time.perf_counter() - self._started
                self.partial_usage = self._finish_usage(reported, texts, latency_s, first_token_s)
            raise
        finally:
            await self._events.aclose()
            self._done(error)

    async def collect(self) -> ChatResult:
        """Read the whole stream and merge it into one result, tool-call fragments joined by index."""
        content: list[str] = []
        reasoning: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        async for chunk in self:
            content.append(chunk.content)
            reasoning.append(chunk.reasoning)
            for delta in chunk.tool_calls:
                call = calls.setdefault(delta.index, {"id": None, "name": "", "arguments": []})
                call["id"] = call["id"] or delta.id
                call["name"] = call["name"] or delta.name or ""
                call["arguments"].append(delta.arguments)
        assert self.usage is not None  # set by the last chunk
        return ChatResult(
            model=self.model,
            content="".join(content),
            reasoning="".join(reasoning) or None,
            tool_calls=tuple(
                ToolCall(call["id"] or f"call_{index}", call["name"], "".join(call["arguments"]))
                for index, call in sorted(calls.items())
            ),
            finish_reason=self.finish_reason,
            usage=self.usage,
            adjusted_params=self.adjusted_params,
        )


def answer_as_stream(
    result: ChatResult,
    *,
    provider: str,
    started: float,
    finish_usage: Callable[[Usage | None, list[str], float, float | None], Usage],
) -> ChatStream:
    """A whole answer (what a server that ignores `stream: true` sends) as a stream of one chunk: the caller who
    asked for a stream gets its content, finish reason and usage as if it had streamed."""

    async def one_event() -> AsyncGenerator[list[ServerSentEvent], None]:
        yield [ServerSentEvent(b"")]

    return ChatStream(
        one_event(), _WholeAnswer(result), model=result.model, provider=provider, started=started,
        finish_usage=finish_usage,
    )  # fmt: skip


class _WholeAnswer(ChatStreamParser):
    __slots__ = ("_result", "finished")

    def __init__(self, result: ChatResult) -> None:
        self._result = result
        self.finished = False

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        self.finished = True
        answer = self._result
        return ChatChunk(
            content=answer.content,
            reasoning=answer.reasoning or "",
            tool_calls=tuple(
                ToolCallDelta(index, call.id, call.name, call.arguments) for index, call in enumerate(answer.tool_calls)
            ),
            finish_reason=answer.finish_reason,
            usage=None if answer.usage is UNREPORTED else answer.usage,
        )
