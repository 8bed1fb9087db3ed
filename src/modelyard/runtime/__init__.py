"""The only package that performs upstream I/O, and the public library API.

The names are imported on first use (PEP 562): settings read `runtime.address_policy`, and that alone must not
load the whole runtime (aiohttp, every protocol) into a CLI command that never calls upstream.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.runtime.invoke import Runtime
    from modelyard.runtime.stream import ChatStream
    from modelyard.runtime.timeouts import Timeouts

__all__ = ["ChatStream", "Runtime", "Timeouts"]

_HOME = {
    "ChatStream": "modelyard.runtime.stream",
    "Runtime": "modelyard.runtime.invoke",
    "Timeouts": "modelyard.runtime.timeouts",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'modelyard.runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
