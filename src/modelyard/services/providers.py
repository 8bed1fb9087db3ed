"""Providers as a workspace sees them: configured or not, hosted or not, and which type calls will use."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelyard.catalog.spec import ProviderSpec
from modelyard.errors import InvalidRequestError
from modelyard.services.credentials import _setting
from modelyard.services.resolve import type_order
from modelyard.services.snapshot import ProviderState, WorkspaceSnapshot
from modelyard.services.workspaces import bump_version
from modelyard.types.model_type import MODEL_TYPES

if TYPE_CHECKING:
    from modelyard.services.context import Services


@dataclass(frozen=True, slots=True)
class ProviderView:
    spec: ProviderSpec
    has_custom: bool  # the workspace's own credentials are configured
    credential_status: str | None
    has_system: bool  # the operator hosts it for this workspace
    preferred_type: str | None  # what the workspace chose: system | custom | None (automatic)
    resolved_type: str | None  # what calls will use now: system | custom | None (not usable)
    custom_model_count: int
    # The honest summary of what the workspace configured: its active credential and its custom models together.
    # verified (every one checked and working) | failing (at least one refused) | unverified | None (nothing).
    status: str | None = None


def summary_status(statuses: builtins.list[str]) -> str | None:
    """One status for several credential sets: failing if any fails, verified only if all are, else unverified."""
    if not statuses:
        return None
    if "failing" in statuses:
        return "failing"
    return "verified" if all(status == "verified" for status in statuses) else "unverified"


def resolved_type(state: ProviderState, custom_models: int) -> str | None:
    """The provider type calls use, by the rules in services/resolve.py (and the README)."""
    order = type_order(
        state.preferred_type, has_custom=state.has_custom or custom_models > 0, has_system=state.hosted is not None
    )
    return order[0] if order else None


class ProviderService:
    def __init__(self, services: Services) -> None:
        self._services = services

    async def list(self, *, workspace_id: str, model_type: str | None = None) -> list[ProviderView]:
        """Every catalog provider in catalog order, from the snapshot (no database; built once per version)."""
        snapshot = await self._services.snapshots.get(workspace_id)
        if model_type is not None and model_type not in MODEL_TYPES:
            return []  # no provider serves it; not memoised, so the memo holds only keys the catalog bounds
        key = ("provider views", model_type)
        cached = snapshot.memo.get(key)
        if cached is None:
            cached = snapshot.memo[key] = self._views(snapshot, model_type)
        return list(cached)

    @staticmethod
    def _views(snapshot: WorkspaceSnapshot, model_type: str | None) -> builtins.list[ProviderView]:
        counts: dict[str, int] = {}
        statuses: dict[str, builtins.list[str]] = {}
        for (provider, _, _), custom in snapshot.custom_models.items():
            counts[provider] = counts.get(provider, 0) + 1
            statuses.setdefault(provider, []).append(custom.status)
        views = []
        for provider, state in snapshot.providers.items():
            if model_type is not None and model_type not in state.spec.supported_model_types:
                continue
            configured = statuses.get(provider, [])
            if state.has_custom:
                configured = [state.credential_status or "unverified", *configured]
            views.append(
                ProviderView(
                    spec=state.spec,
                    has_custom=state.has_custom or counts.get(provider, 0) > 0,
                    credential_status=state.credential_status,
                    has_system=state.hosted is not None,
                    preferred_type=state.preferred_type,
                    resolved_type=resolved_type(state, counts.get(provider, 0)),
                    custom_model_count=counts.get(provider, 0),
                    status=summary_status(configured),
                )
            )
        return views

    async def set_preferred_type(self, *, workspace_id: str, provider: str, preferred_type: str | None) -> None:
        if preferred_type not in (None, "system", "custom"):
            raise InvalidRequestError("preferred type is system, custom, or null (automatic)", field="preferred_type")
        self._services.catalog.get(provider)
        async with self._services.db.begin() as session:
            setting = await _setting(session, workspace_id, provider)
            setting.preferred_type = preferred_type
            await bump_version(session, workspace_id=workspace_id)
        await self._services.snapshots.changed(workspace_id)
