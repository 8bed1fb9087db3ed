"""Default models, one per model type: set, get, clear. A read never writes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from modelyard.errors import InvalidRequestError, ModelyardError
from modelyard.services.resolve import availability, default_model, resolve_exact
from modelyard.services.workspaces import bump_version
from modelyard.store.tables import DefaultModel
from modelyard.types.model_type import MODEL_TYPES, ModelType

if TYPE_CHECKING:
    from modelyard.services.context import Services


@dataclass(frozen=True, slots=True)
class DefaultModelView:
    model_type: ModelType
    provider: str | None
    model: str | None
    source: str | None  # chosen | automatic | None (nothing usable)
    is_available: bool
    reason: str | None = None  # why a chosen default cannot be used now, or why there is none
    reason_code: str | None = None  # the error contract's code of `reason`; no_usable_model when there is none
    reason_params: Mapping[str, str] = field(default_factory=dict)  # the values `reason` names


NO_USABLE_MODEL = "no_usable_model"  # the reason code of a type with no usable model: nothing to choose from


def check_model_type(model_type: str) -> ModelType:
    if model_type not in MODEL_TYPES:
        raise InvalidRequestError(f"model type must be one of: {', '.join(MODEL_TYPES)}", field="model_type")
    return model_type


class DefaultModelService:
    def __init__(self, services: Services) -> None:
        self._services = services

    async def get(self, *, workspace_id: str, model_type: str) -> DefaultModelView:
        kind = check_model_type(model_type)
        snapshot = await self._services.snapshots.get(workspace_id)
        chosen = snapshot.defaults.get(kind)
        if chosen is not None:
            state = availability(snapshot, chosen[0], chosen[1], kind)
            return DefaultModelView(
                kind, *chosen, "chosen", state.is_available, state.reason, state.reason_code, state.reason_params
            )
        try:
            provider, model = default_model(snapshot, kind)
        except ModelyardError as exc:
            return DefaultModelView(kind, None, None, None, False, str(exc), NO_USABLE_MODEL, exc.params)
        return DefaultModelView(kind, provider, model, "automatic", True)

    async def all(self, *, workspace_id: str) -> list[DefaultModelView]:
        return [await self.get(workspace_id=workspace_id, model_type=kind) for kind in MODEL_TYPES]

    async def set(self, *, workspace_id: str, model_type: str, provider: str, model: str) -> DefaultModelView:
        """Choose the default; a model the workspace cannot use now is refused, saying why."""
        kind = check_model_type(model_type)
        snapshot = await self._services.snapshots.get(workspace_id)
        resolve_exact(snapshot, provider, model, kind)  # raises with the reason
        async with self._services.db.begin() as session:
            row = await session.scalar(
                select(DefaultModel).where(DefaultModel.workspace_id == workspace_id, DefaultModel.model_type == kind)
            )
            if row is None:
                session.add(DefaultModel(workspace_id=workspace_id, model_type=kind, provider=provider, model=model))
            else:
                row.provider, row.model = provider, model
            await bump_version(session, workspace_id=workspace_id)
        await self._services.snapshots.changed(workspace_id)
        return DefaultModelView(kind, provider, model, "chosen", True)

    async def clear(self, *, workspace_id: str, model_type: str) -> None:
        kind = check_model_type(model_type)
        async with self._services.db.begin() as session:
            await session.execute(
                delete(DefaultModel).where(DefaultModel.workspace_id == workspace_id, DefaultModel.model_type == kind)
            )
            await bump_version(session, workspace_id=workspace_id)
        await self._services.snapshots.changed(workspace_id)
