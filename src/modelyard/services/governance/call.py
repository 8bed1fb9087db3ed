"""One call as governance sees it: who makes it, under which policy, and what its answer must report.

The gateway opens a `GovernedCall` at its auth step and wraps the exchange's `send` with `stamp`, so whatever the
route answers (a result, a stream, an error raised anywhere) carries the headers admission left here. The invoker
finds the call through `current()`: a context variable, so the routes between the two stay as they are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.services.api_keys import ApiKeyIdentity

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class GovernedCall:
    """Per call: the workspace, the key (None from the console), and headers for the answer."""

    __slots__ = ("headers", "key", "workspace_id")

    def __init__(self, workspace_id: str, key: ApiKeyIdentity | None = None) -> None:
        self.workspace_id = workspace_id
        self.key = key
        self.headers: list[tuple[bytes, bytes]] = []

    def stamp(self, send: Send) -> Send:
        """`send`, adding this call's headers to the start of the answer."""

        async def stamped(message: MutableMapping[str, Any]) -> None:
            if self.headers and message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *self.headers]}
            await send(message)

        return stamped


_current: ContextVar[GovernedCall | None] = ContextVar("modelyard_governed_call", default=None)


def enter(call: GovernedCall) -> Token[GovernedCall | None]:
    return _current.set(call)


def leave(token: Token[GovernedCall | None]) -> None:
    _current.reset(token)


def current() -> GovernedCall | None:
    return _current.get()
