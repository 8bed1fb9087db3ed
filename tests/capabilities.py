"""Proof of capabilities, for the published matrix: a test that exercises a capability end to end records it.

`prove(provider, model_type, capability)` inside a test; the cell counts only if that test passes. At the end
of a run the proven cells are written to build/capabilities.json, which scripts/capability_matrix.py renders
into docs/capabilities.md with the catalog. A cell says yes only when a test proved it.
"""

from __future__ import annotations

from typing import Literal

Capability = Literal[
    "invoke", "streaming", "tools", "vision", "structured-output", "gateway", "responses", "custom-model", "completion"
]

pending: list[tuple[str, str, str]] = []  # cells the running test claims; kept only if it passes
proven: set[tuple[str, str, str]] = set()


def prove(provider: str, model_type: str, capability: Capability) -> None:
    pending.append((provider, model_type, capability))
