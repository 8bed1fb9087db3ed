from __future__ import annotations

import msgspec


class Value(msgspec.Struct, frozen=True):
    """Base of the values that cross the hot path: immutable and slotted like a frozen dataclass, but built
    in about a microsecond instead of ten (measured here, 2026-11), which a gateway call does dozens of times."""


def repr_without_credentials(self: msgspec.Struct) -> str:
    """A repr that shows `credentials` as hidden: values holding decrypted keys must not leak through logs."""
    parts = []
    for name in self.__struct_fields__:
        shown = "<hidden>" if name == "credentials" else repr(getattr(self, name))
        parts.append(f"{name}={shown}")
    return f"{type(self).__name__}({', '.join(parts)})"
