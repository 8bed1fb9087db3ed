"""One module per upstream wire format; pure translation, no I/O.

`PROTOCOLS` (in `registry.py`) is imported on first use (PEP 562): a module that needs `protocols.base` or one
family must not load every family with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.protocols.base import WireProtocol
    from modelyard.protocols.registry import PROTOCOLS

__all__ = ["PROTOCOLS", "WireProtocol"]


def __getattr__(name: str) -> Any:
    if name == "PROTOCOLS":
        from modelyard.protocols.registry import PROTOCOLS

        return PROTOCOLS
    if name == "WireProtocol":
        from modelyard.protocols.base import WireProtocol

        return WireProtocol
    raise AttributeError(f"module 'modelyard.protocols' has no attribute {name!r}")
