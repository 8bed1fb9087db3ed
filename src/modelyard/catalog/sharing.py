"""One object for each distinct catalog value, so a process holds the catalog in ~1.6 MB instead of ~9 MB.

The provider files repeat themselves: labels, parameter rules from shared templates, form options, properties.
Validated one by one, each repetition is its own pydantic object with its own `__dict__` and fields-set (a
`set` of 216 bytes even when empty): 53,000 objects for 46 providers. Their values are frozen, so equal ones can
be one object; the compiled catalog (compiled.py) keeps that sharing, as pickle writes a shared object once.

Two values are merged only when their type, fields and the fields that were set all match, so `model_dump
(exclude_unset=True)` and equality answer as before. A value shared this way must never be changed in place (the
specs are frozen; their dict fields, such as quirks, are only read).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

Value = TypeVar("Value")


class _Sharer:
    def __init__(self) -> None:
        self._specs: dict[tuple[Any, ...], BaseModel] = {}
        self._fields_sets: dict[frozenset[str], set[str]] = {}
        self._strings: dict[str, str] = {}

    def share(self, value: Any) -> Any:
        if isinstance(value, BaseModel):
            return self._share_spec(value)
        if isinstance(value, str):
            return self._strings.setdefault(value, value)
        if isinstance(value, tuple):
            shared = tuple(self.share(item) for item in value)
            return value if all(a is b for a, b in zip(shared, value, strict=True)) else shared
        if isinstance(value, dict):
            for key, item in list(value.items()):
                value[key] = self.share(item)
            return value
        if isinstance(value, list):
            value[:] = [self.share(item) for item in value]
            return value
        return value

    def _share_spec(self, spec: BaseModel) -> BaseModel:
        fields = spec.__dict__  # a frozen model's own storage: written here once, before anyone reads it
        for name, item in fields.items():
            fields[name] = self.share(item)
        fields_set = frozenset(spec.__pydantic_fields_set__)
        # pydantic copies this set before it changes it (model_copy), so one set may serve many values
        object.__setattr__(spec, "__pydantic_fields_set__", self._fields_sets.setdefault(fields_set, set(fields_set)))
        key = (type(spec), fields_set, _identity(fields))
        return self._specs.setdefault(key, spec)


def _identity(value: Any) -> Any:
    """A hashable key of a value whose specs are already shared: a spec by identity, a scalar by type and repr."""
    if isinstance(value, BaseModel):
        return ("spec", id(value))
    if isinstance(value, tuple | list):
        return (type(value), *(_identity(item) for item in value))
    if isinstance(value, Mapping):
        return (dict, *((key, _identity(item)) for key, item in value.items()))
    return (type(value), repr(value))  # equal but different: 1 and True, Decimal("3") and Decimal("3.00"), 0.0 and -0.0


def share_equal_values(providers: Mapping[str, Value]) -> dict[str, Value]:
    """The providers with every pair of equal catalog values (specs, strings) made one object."""
    sharer = _Sharer()
    return {provider_id: sharer.share(spec) for provider_id, spec in providers.items()}
