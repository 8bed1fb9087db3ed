"""Readers for the fields of a JSON body a client sent to the gateway (any ingress shape).

Each returns the value, or None / an empty sequence when the field is absent, and refuses a value of the wrong
type with an InvalidRequestError naming the field, so bad input is a clear 400 and never a 500.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from modelyard.errors import InvalidRequestError
from modelyard.types.chat import CacheTTL


def mapping(body: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = body.get(key)
    if value is not None and not isinstance(value, Mapping):
        raise InvalidRequestError(f"{key} must be an object", field=key)
    return value


def array(body: Mapping[str, Any], key: str) -> Sequence[Any]:
    value = body.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidRequestError(f"{key} must be an array", field=key)
    return value


def strings(values: Any, key: str, *, expected: str = "an array of strings") -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InvalidRequestError(f"{key} must be {expected}", field=key)
    return values


def texts(value: Any, key: str) -> tuple[str, ...]:
    """One text or a non-empty list of them (embedding inputs, rerank documents)."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise InvalidRequestError(f"{key} must be a string or a non-empty array of strings", field=key)


def typed(body: Mapping[str, Any], key: str, kind: type) -> Any:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidRequestError(f"{key} must be a {kind.__name__}", field=key)
    return value


def number(body: Mapping[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequestError(f"{key} must be a number", field=key)
    return float(value)


def positive_int(value: Any, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRequestError(f"{key} must be a positive integer", field=key)
    return value


def cache_ttl(raw: Mapping[str, Any], where: str) -> CacheTTL | None:
    """A block's `cache_control` ({type: ephemeral, ttl?: 5m | 1h}, Anthropic's shape, which OpenAI-shaped clients
    such as LiteLLM and OpenRouter send too) as a cache breakpoint's lifetime; None when the block has none."""
    control = raw.get("cache_control")
    if control is None:
        return None
    ttl = control.get("ttl", "5m") if isinstance(control, Mapping) else None
    if not isinstance(control, Mapping) or control.get("type") != "ephemeral" or ttl not in ("5m", "1h"):
        raise InvalidRequestError(
            f'{where}.cache_control must be {{"type": "ephemeral"}} with an optional ttl of 5m or 1h',
            field=f"{where}.cache_control",
        )
    return ttl  # type: ignore[no-any-return]
