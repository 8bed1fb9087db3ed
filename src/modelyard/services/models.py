"""A workspace's models: the catalog's, switched on or off, and custom models with their own credentials."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.catalog.spec import ModelSpec
from modelyard.errors import CredentialValidationError, InvalidRequestError, NotFoundError
from modelyard.services.credentials import _flush_unique
from modelyard.services.defaults import check_model_type
from modelyard.services.pools import PoolService
from modelyard.services.resolve import availability
from modelyard.services.sealed import masked_values, merge_update, open_values, seal_values
from modelyard.services.snapshot import WorkspaceSnapshot
from modelyard.services.workspaces import bump_version
from modelyard.store.tables import CustomModel, ModelSetting, utcnow
from modelyard.types import ModelType

if TYPE_CHECKING:
    from modelyard.protocols.base import RemoteModel  # importing it loads every protocol: only `remote` needs them
    from modelyard.services.context import Services


@dataclass(frozen=True, slots=True)
class ModelView:
    """A model as the workspace sees it: what it can do, and whether it can be called now."""

    provider: str
    model: str
    model_type: ModelType
    spec: ModelSpec
    is_custom: bool
    is_enabled: bool
    is_load_balanced: bool
    is_available: bool
    reason: str | None
    provider_types: tuple[str, ...]  # which of system / custom can serve it
    reason_code: str | None = None  # the error contract's code of `reason`
    reason_params: Mapping[str, str] = field(default_factory=dict)  # the values `reason` names, to word it anew

    @property
    def is_deprecated(self) -> bool:
        """Still served and usable, but the vendor announced its end (see `shutdown_date`)."""
        return self.spec.deprecated

    @property
    def shutdown_date(self) -> date | None:
        return self.spec.shutdown_date


@dataclass(frozen=True, slots=True)
class CustomModelView:
    id: str
    provider: str
    model: str
    model_type: ModelType
    values: dict[str, str]  # secrets masked
    status: str
    checked_at: datetime | None
    last_error: str | None
    created_at: datetime


class ModelService:
    def __init__(self, services: Services) -> None:
        self._services = services

    # --- listing ------------------------------------------------------------------------------------------------

    async def list(
        self, *, workspace_id: str, provider: str | None = None, model_type: str | None = None
    ) -> builtins.list[ModelView]:
        """Every model of the catalog and the workspace's custom models; built from the snapshot, no database."""
        kind = check_model_type(model_type) if model_type is not None else None
        snapshot = await self._services.snapshots.get(workspace_id)
        # The views depend on the snapshot alone, so each listing is built once per configuration version.
        if provider is not None and provider not in snapshot.providers:
            return []  # not memoised: the memo holds only keys the catalog bounds
        key = ("model views", provider, kind)
        views = snapshot.memo.get(key)
        if views is None:
            views = snapshot.memo[key] = list_models(
                snapshot, provider=provider, model_type=kind, balanced=self._balanced(snapshot)
            )
        return list(views)

    def _balanced(self, snapshot: WorkspaceSnapshot) -> frozenset[tuple[str, str, str]]:
        return frozenset(snapshot.pools)

    async def remote(self, *, workspace_id: str, provider: str) -> builtins.list[RemoteModel]:
        """The models the provider's own API lists for the workspace's active credentials."""
        snapshot = await self._services.snapshots.get(workspace_id)
        state = snapshot.providers.get(provider)
        if state is None:
            raise NotFoundError(f"unknown provider {provider!r}").with_params(
                case="unknown_provider", provider=provider
            )
        if "fetch-from-remote" not in state.spec.configuration_methods:
            raise InvalidRequestError(f"{provider} cannot list its models")
        credentials = state.credentials or next(
            (m.credentials for k, m in snapshot.custom_models.items() if k[0] == provider), None
        )
        if credentials is None:
            raise CredentialValidationError(f"add credentials for {provider} first").with_params(
                case="add_credentials_first", provider=provider
            )
        return await self._services.runtime.list_remote_models(provider=provider, credentials=credentials)

    # --- switches -----------------------------------------------------------------------------------------------

    async def set_enabled(
        self, *, workspace_id: str, provider: str, model: str, model_type: str, enabled: bool
    ) -> None:
        await self._set(workspace_id, provider, model, model_type, enabled=enabled)

    async def set_load_balancing(
        self, *, workspace_id: str, provider: str, model: str, model_type: str, enabled: bool
    ) -> None:
        """Switch the model's pool on or off; on, its own credentials join the pool as an entry (pools.py)."""
        await self._set(workspace_id, provider, model, model_type, load_balancing=enabled)

    async def _set(self, workspace_id: str, provider: str, model: str, model_type: str, **switches: bool) -> None:
        kind = check_model_type(model_type)
        await self.require_model(workspace_id, provider, model, kind)
        snapshot = await self._services.snapshots.get(workspace_id)
        async with self._services.db.begin() as session:
            row = await _setting(session, workspace_id, provider, model, kind)
            for name, value in switches.items():
                setattr(row, name, value)
            if switches.get("load_balancing"):
                await PoolService.ensure_inherit(session, snapshot, provider=provider, model=model, kind=kind)
            await bump_version(session, workspace_id=workspace_id)
        await self._services.snapshots.changed(workspace_id)

    async def require_model(self, workspace_id: str, provider: str, model: str, kind: ModelType) -> None:
        snapshot = await self._services.snapshots.get(workspace_id)
        state = snapshot.providers.get(provider)
        if state is None:
            raise NotFoundError(f"unknown provider {provider!r}").with_params(
                case="unknown_provider", provider=provider
            )
        if state.spec.model(model, kind) is None and (provider, model, kind) not in snapshot.custom_models:
            raise NotFoundError(f"[{provider}] has no {kind} model {model!r} in this workspace")

    # --- custom models ------------------------------------------------------------------------------------------

    async def add_custom(
        self,
        *,
        workspace_id: str,
        provider: str,
        model: str,
        model_type: str,
        values: Mapping[str, object],
        validate: bool = True,
    ) -> CustomModelView:
        """Add a model by name to a customizable provider, after one test call with its credentials."""
        kind = check_model_type(model_type)
        spec = self._services.catalog.get(provider)
        if "customizable-model" not in spec.configuration_methods:
            raise InvalidRequestError(f"{provider} does not take custom models", field="provider")
        if kind not in spec.supported_model_types:
            raise InvalidRequestError(f"{provider} does not serve {kind} models", field="model_type")
        if kind not in spec.custom_types:
            raise InvalidRequestError(
                f"{provider} takes custom {', '.join(spec.custom_types)} models, not {kind}", field="model_type"
            )
        model = model.strip()
        if not model or len(model) > 255:
            raise InvalidRequestError("a model name is 1 to 255 characters", field="model")
        if spec.model(model, kind) is not None:  # the catalog's spec would shadow what the form describes
            raise InvalidRequestError(
                f"{model!r} is a predefined {kind} model of {provider}: it works with the provider's credentials; "
                "give a custom model a name of its own",
                field="model",
            )
        accepted, status, error = await self._services.credentials.checked(
            provider, spec.model_credentials, values, validate=validate, model=model, model_type=kind
        )
        self._services.runtime.binding(provider).model(model, kind, accepted)  # the form must describe a model
        async with self._services.db.begin() as session:
            vault = await self._services.vaults.vault(session, workspace_id=workspace_id)
            row = CustomModel(
                workspace_id=workspace_id,
                provider=provider,
                model=model,
                model_type=kind,
                sealed_values=seal_values(vault, spec.model_credentials, accepted),
                status=status,
                checked_at=utcnow() if validate else None,
                last_error=error,
            )
            session.add(row)
            await _flush_unique(session, f"{provider} already has a {kind} model named {model!r}")
            await bump_version(session, workspace_id=workspace_id)
        await self._services.snapshots.changed(workspace_id)
        return _custom_view(row)

    async def update_custom(
        self, *, workspace_id: str, custom_model_id: str, values: Mapping[str, object], validate: bool = True
    ) -> CustomModelView:
        async with self._services.db() as session:
            row = await _custom_row(session, workspace_id, custom_model_id)
            vault = await self._services.vaults.vault(session, workspace_id=workspace_id)
            stored = open_values(vault, row.sealed_values)
        spec = self._services.catalog.get(row.provider)
        accepted, status, error = await self._services.credentials.checked(
            row.provider,
            spec.model_credentials,
            merge_update(stored, values),
            validate=validate,
            model=row.model,
            model_type=row.model_type,  # type: ignore[arg-type]
        )
        async with self._services.db.begin() as session:
            row = await _custom_row(session, workspace_id, custom_model_id)
            row.sealed_values = seal_values(vault, spec.model_credentials, accepted)
            row.status, row.last_error = status, error
            row.checked_at = utcnow() if validate else row.checked_at
            await bump_version(session, workspace_id=workspace_id)
        await self._services.snapshots.changed(workspace_id)
        return _custom_view(row)

    async def validate_custom(self, *, workspace_id: str, custom_model_id: str) -> CustomModelView:
        async with self._services.db() as session:
            row = await _custom_row(session, workspace_id, custom_model_id)
            vault = await self._services.vaults.vault(session, workspace_id=workspace_id)
            stored = open_values(vault, row.sealed_values)
        try:
            await self._services.runtime.validate_credentials(
                provider=row.provider,
                credentials=stored,
                model=row.model,
                model_type=row.model_type,  # type: ignore[arg-type]
            )
            status, error = "verified", None
        except CredentialValidationError as exc:
            status, error = "failing", str(exc)
        async with self._services.db.begin() as session:
            row = await _custom_row(session, workspace_id, custom_model_id)
            row.status, row.last_error, row.checked_at = status, error, utcnow()
            await bump_version(session, workspace_id=workspace_id)
        await self._services.snapshots.changed(workspace_id)
        return _custom_view(row)

    async def list_custom(self, *, workspace_id: str, provider: str | None = None) -> builtins.list[CustomModelView]:
        query = select(CustomModel).where(CustomModel.workspace_id == workspace_id)
        if provider is not None:
            query = query.where(CustomModel.provider == provider)
        async with self._services.db() as session:
            rows = (await session.scalars(query.order_by(CustomModel.created_at))).all()
        return [_custom_view(row) for row in rows]

    async def get_custom(self, *, workspace_id: str, custom_model_id: str) -> CustomModelView:
        async with self._services.db() as session:
            return _custom_view(await _custom_row(session, workspace_id, custom_model_id))

    async def delete_custom(self, *, workspace_id: str, custom_model_id: str) -> None:
        async with self._services.db.begin() as session:
            row = await _custom_row(session, workspace_id, custom_model_id)
            await session.delete(row)
            await bump_version(session, workspace_id=workspace_id)
        await self._services.snapshots.changed(workspace_id)


def list_models(
    snapshot: WorkspaceSnapshot,
    *,
    provider: str | None,
    model_type: ModelType | None,
    balanced: frozenset[tuple[str, str, str]],
) -> list[ModelView]:
    views = []
    for provider_id, state in snapshot.providers.items():
        if provider is not None and provider_id != provider:
            continue
        customs = [c for key, c in snapshot.custom_models.items() if key[0] == provider_id]
        for spec, is_custom in [*((m, False) for m in state.spec.models), *((c.spec, True) for c in customs)]:
            if model_type is not None and spec.type != model_type:
                continue
            key = (provider_id, spec.id, spec.type)
            state_now = availability(snapshot, provider_id, spec.id, spec.type)
            types = []
            if is_custom or state.has_custom or key in snapshot.pools:
                types.append("custom")
            if not is_custom and state.hosted is not None and state.hosted.allows(spec.id):
                types.append("system")
            views.append(
                ModelView(
                    provider=provider_id,
                    model=spec.id,
                    model_type=spec.type,
                    spec=spec,
                    is_custom=is_custom,
                    is_enabled=key not in snapshot.disabled,
                    is_load_balanced=key in balanced,
                    is_available=state_now.is_available,
                    reason=state_now.reason,
                    provider_types=tuple(types),
                    reason_code=state_now.reason_code,
                    reason_params=state_now.reason_params,
                )
            )
    return views


async def _setting(
    session: AsyncSession, workspace_id: str, provider: str, model: str, kind: ModelType
) -> ModelSetting:
    row = await session.scalar(
        select(ModelSetting).where(
            ModelSetting.workspace_id == workspace_id,
            ModelSetting.provider == provider,
            ModelSetting.model == model,
            ModelSetting.model_type == kind,
        )
    )
    if row is None:
        row = ModelSetting(
            workspace_id=workspace_id,
            provider=provider,
            model=model,
            model_type=kind,
            enabled=True,
            load_balancing=False,
        )
        session.add(row)
    return row


async def _custom_row(session: AsyncSession, workspace_id: str, custom_model_id: str) -> CustomModel:
    row = await session.get(CustomModel, custom_model_id)
    if row is None or row.workspace_id != workspace_id:
        raise NotFoundError(f"custom model {custom_model_id!r} does not exist")
    return row


def _custom_view(row: CustomModel) -> CustomModelView:
    return CustomModelView(
        id=row.id,
        provider=row.provider,
        model=row.model,
        model_type=row.model_type,  # type: ignore[arg-type]
        values=masked_values(row.sealed_values),
        status=row.status,
        checked_at=row.checked_at,
        last_error=row.last_error,
        created_at=row.created_at,
    )
