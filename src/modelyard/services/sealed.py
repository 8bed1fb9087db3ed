"""Credential values at rest: plain fields as they are, secret fields sealed by the workspace vault.

Stored as JSON `{"plain": {...}, "sealed": {...}}`. Reads show secrets masked; an update that sends the
mask back keeps the stored secret, and fields an update leaves out keep their stored value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import orjson

from modelyard.vault import SECRET_MASK, WorkspaceVault

if TYPE_CHECKING:  # the catalog's models cost ~50 ms to import, which `workspace list` does not need
    from modelyard.catalog.spec import FormField


def seal_values(vault: WorkspaceVault, form: Iterable[FormField], values: Mapping[str, str]) -> str:
    secret = {f.variable for f in form if f.is_secret}
    plain = {k: v for k, v in values.items() if k not in secret}
    sealed = {k: vault.seal(v) for k, v in values.items() if k in secret}
    return orjson.dumps({"plain": plain, "sealed": sealed}).decode()


def open_values(vault: WorkspaceVault, stored: str) -> dict[str, str]:
    data = orjson.loads(stored)
    opened = dict(data.get("plain", {}))
    opened.update({k: vault.open(v) for k, v in data.get("sealed", {}).items()})
    return opened


def masked_values(stored: str) -> dict[str, str]:
    """The values to show: plain ones as they are, every secret as the same mask (a read never decrypts)."""
    data = orjson.loads(stored)
    shown = dict(data.get("plain", {}))
    shown.update({k: SECRET_MASK for k in data.get("sealed", {})})
    return shown


def merge_update(stored: Mapping[str, str], incoming: Mapping[str, object]) -> dict[str, object]:
    """An update's values over the stored ones: the mask keeps a secret, None or "" clears a field."""
    merged: dict[str, object] = dict(stored)
    for variable, value in incoming.items():
        if value == SECRET_MASK and variable in stored:
            continue
        if value is None or value == "":
            merged.pop(variable, None)
        else:
            merged[variable] = value
    return merged


def reseal(stored: str, old: WorkspaceVault, new: WorkspaceVault) -> str:
    data = orjson.loads(stored)
    data["sealed"] = {k: new.seal(old.open(v)) for k, v in data.get("sealed", {}).items()}
    return orjson.dumps(data).decode()
