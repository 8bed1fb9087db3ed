"""The gateway's side of the parameter rules (runtime/parameters.py): strict mode, asked for per request (or per API
key), and what the rules changed, told in response headers on every chat face."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelyard.gateway.exchange import Exchange
from modelyard.runtime.stream import ChatStream
from modelyard.types import ChatResult

if TYPE_CHECKING:
    from modelyard.services.api_keys import ApiKeyIdentity

STRICT_HEADER = b"x-modelyard-strict-params"
DROPPED_HEADER = b"x-modelyard-dropped-params"
ADJUSTED_HEADER = b"x-modelyard-adjusted-params"
_YES = frozenset({"1", "true", "yes", "on"})


def strict_params(exchange: Exchange, identity: ApiKeyIdentity) -> bool:
    """Strict mode for this call: the request asks for it (`x-modelyard-strict-params: true`), or the key's policy does.

    A key whose policy is strict stays strict whatever the header says; a request cannot relax its key.
    """
    requested = exchange.header(STRICT_HEADER)
    return key_requires_strict_params(identity) or (requested is not None and requested.strip().lower() in _YES)


def key_requires_strict_params(identity: ApiKeyIdentity) -> bool:
    # The hook for API-key policy (issue 16 adds policy fields to keys): a key identity that carries
    # `strict_params = True` makes every call it authorizes strict.
    return getattr(identity, "strict_params", False) is True


def adjustment_headers(result: ChatResult | ChatStream) -> list[tuple[bytes, bytes]]:
    """`x-modelyard-dropped-params: temperature, top_p` and `x-modelyard-adjusted-params: max_tokens=4096`."""
    adjusted = result.adjusted_params
    if not adjusted:
        return []
    headers = []
    dropped = [a.name for a in adjusted if a.action == "dropped"]
    if dropped:
        headers.append((DROPPED_HEADER, ", ".join(dropped).encode()))
    clamped = [f"{a.name}={a.sent}" for a in adjusted if a.action == "clamped"]
    if clamped:
        headers.append((ADJUSTED_HEADER, ", ".join(clamped).encode()))
    return headers
