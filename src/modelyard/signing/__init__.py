"""Outbound auth schemes, one small pure class each, by the name provider files use in `signing:`.

`SIGNING_SCHEMES` (in `registry.py`) is imported on first use (PEP 562): settings read `machine_identity` from
here, and that alone must not load every scheme (and the catalog models they import) into each CLI command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.signing.base import SigningScheme
    from modelyard.signing.registry import SIGNING_SCHEMES

__all__ = ["SIGNING_SCHEMES", "SigningScheme"]


def __getattr__(name: str) -> Any:
    if name == "SIGNING_SCHEMES":
        from modelyard.signing.registry import SIGNING_SCHEMES

        return SIGNING_SCHEMES
    if name == "SigningScheme":
        from modelyard.signing.base import SigningScheme

        return SigningScheme
    raise AttributeError(f"module 'modelyard.signing' has no attribute {name!r}")
