"""Load-balancing entries: several credential sets for one model, each with a weight and a live state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.catalog.spec import FormField
from modelyard.errors import CredentialValidationError, InvalidRequestError, NotFoundError
from modelyard.services.balancer import PoolEntry
from modelyard.services.credentials import _flush_unique, _valid_name
from modelyard.services.defaults import check_model_type
from modelyard.services.sealed import masked_values, merge_update, open_values, seal_values
from modelyard.services.workspaces import bump_version
from modelyard.store.tables import LoadBalancingEntry, ProviderCredential, utcnow

if TYPE_CHECKING:
    from modelyard.services.context import Services


@dataclass(frozen=True, slots=True)
class PoolEntryView:
    id: str
    provider: str
    model: str
    model_type: str
    name: str
    weight: int
    is_enabled: bool
    credential_id: str | None  # when the entry uses one of the provider's named credentials
    values: dict[str, str]  # its own values, secrets masked
    status: str
    checked_at: datetime | None
    last_error: str | None
    live_status: str  # available | cooling | disabled (from the load balancer)
    cooldown_remaining_s: float


def pool_key(workspace_id: str, provider: str, model: str, model_type: str) -> str:
    return f"{workspace_id}/{provider}/{model}/{model_type}"


class PoolService:
    def __init__(self, services: Services) -> None:
        self._services = services

    async def add(
        self,
        *,
        workspace_id: str,
        provider: str,
        model: str,
        model_type: str,
        name: str,
        weight: int = 1,
        values: Mapping[str, object] | None = None,
        credential_id: str | None = None,
        validate: bool = True,
    ) -> PoolEntryView:
        """Add a credential set to a model's pool: its own values, or one of the provider's named credentials."""
        kind = check_model_type(model_type)
        _check_weight(weight)
        if (values is None) == (credential_id is None):
            raise InvalidRequestError("give either values or credential_id", field="values")
        await self._services.models.require_model(workspace_id, provider, model, kind)
        form = await self._form(workspace_id, provider, model, kind)
        accepted: dict[str, str] = {}
        status, error = "verified", None  # a named credential was checked when it was saved
        if values is not None:
            accepted, status, error = await self._services.credentials.checked(
                provider, form, values, validate=validate, model=model, model_type=kind
            )
        async with self._services.db.begin() as session:
            sealed = None
            if credential_id is not None:
                await _credential(session, workspace_id, credential_id, provider)
            else:
                vault = await self._services.workspaces.vault(session, workspace_id=workspace_id)
                sealed = seal_values(vault, form, accepted)
            row = LoadBalancingEntry(
                workspace_id=workspace_id,
                provider=provider,
                model=model,
                model_type=kind,
                name=_valid_name(name),
                weight=weight,
                credential_id=credential_id,
                sealed_values=sealed,
                status=status,
                checked_at=utcnow() if validate else None,
                last_error=error,
            )
            session.add(row)
            await _flush_unique(session, f"this model's pool already has an entry named {name!r}")
            await bump_version(session, workspace_id=workspace_id)
        await self._services.snapshots.changed(workspace_id)
        return self._view(row)

    async def update(
        self,
        *,
        workspace_id: str,
        entry_id: str,
        name: str | None = None,
        weight: int | None = None,
        enabled: bool | None = None,
        values: Mapping[str, object] | None = None,
        validate: bool = True,
    ) -> PoolEntryView:
        async with self._services.db() as session:
            row = await _entry(session, workspace_id, entry_id)
            vault = await self._services.workspaces.vault(session, workspace_id=workspace_id)
        sealed = row.sealed_values
        status, error, checked = row.status, row.last_error, row.checked_at
        if values is not None:
            if row.credential_id is not None:
                raise InvalidRequestError("this entry uses a named credential; edit that credential", field="values")
            form = await self._form(workspace_id, row.provider, row.model, row.model_type)
            merged = merge_update(open_values(vault, row.sealed_values or "{}"), values)
            accepted, status, error = await self._services.credentials.checked(
                row.provider,
                form,
                merged,
                validate=validate,
                model=row.model,
                model_type=row.model_type,  # type: ignore[arg-type]
            )
            sealed, checked = seal_values(vault, form, accepted), utcnow() if validate else checked
        if weight is not None:
            _check_weight(weight)
        async with self._services.db.begin() as session:
            row = await _entry(session, workspace_id, entry_id)
            row.sealed_values, row.status, row.last_error, row.checked_at = sealed, status, error, checked
            if name is not None:
                row.name = _valid_name(name)
            if weight is not None:
                row.weight = weight
            if enabled is not None:
                row.enabled = enabled
            await _flush_unique(session, f"this model's pool already has an entry named {name!r}")
            await bump_version(session, workspace_id=workspace_id)
        if status == "verified":
            await self._services.balancer.enable(entry_id)
        await self._services.snapshots.changed(workspace_id)
        return self._view(row)

    async def delete(self, *, workspace_id: str, entry_id: str) -> None:
        async with self._services.db.begin() as session:
            await session.delete(await _entry(session, workspace_id, entry_id))
            await bump_version(session, workspace_id=workspace_id)
        await self._services.snapshots.changed(workspace_id)

    async def list(self, *, workspace_id: str, provider: str, model: str, model_type: str) -> list[PoolEntryView]:
        query = select(LoadBalancingEntry).where(
            LoadBalancingEntry.workspace_id == workspace_id,
            LoadBalancingEntry.provider == provider,
            LoadBalancingEntry.model == model,
            LoadBalancingEntry.model_type == model_type,
        )
        async with self._services.db() as session:
            rows = (await session.scalars(query.order_by(LoadBalancingEntry.created_at))).all()
        return [self._view(row) for row in rows]

    async def validate(self, *, workspace_id: str, entry_id: str) -> PoolEntryView:
        """Check an entry again; a verified entry that the balancer took out (auth failure) comes back."""
        async with self._services.db() as session:
            row = await _entry(session, workspace_id, entry_id)
            vault = await self._services.workspaces.vault(session, workspace_id=workspace_id)
            if row.credential_id is not None:
                source = await _credential(session, workspace_id, row.credential_id, row.provider)
                values = open_values(vault, source.sealed_values)
            else:
                values = open_values(vault, row.sealed_values or "{}")
        try:
            await self._services.runtime.validate_credentials(
                provider=row.provider,
                credentials=values,
                model=row.model,
                model_type=row.model_type,  # type: ignore[arg-type]
            )
            status, error = "verified", None
        except CredentialValidationError as exc:
            status, error = "failing", str(exc)
        async with self._services.db.begin() as session:
            row = await _entry(session, workspace_id, entry_id)
            row.status, row.last_error, row.checked_at = status, error, utcnow()
            await bump_version(session, workspace_id=workspace_id)
        if status == "verified":
            await self._services.balancer.enable(entry_id)
        await self._services.snapshots.changed(workspace_id)
        return self._view(row)

    async def _form(self, workspace_id: str, provider: str, model: str, model_type: str) -> tuple[FormField, ...]:
        snapshot = await self._services.snapshots.get(workspace_id)
        spec = self._services.catalog.get(provider)
        is_custom = (provider, model, model_type) in snapshot.custom_models
        return spec.model_credentials if is_custom else spec.credentials

    def _view(self, row: LoadBalancingEntry) -> PoolEntryView:
        key = pool_key(row.workspace_id, row.provider, row.model, row.model_type)
        live = self._services.balancer.state(key, [PoolEntry(row.id, row.weight)])[0]
        return PoolEntryView(
            id=row.id,
            provider=row.provider,
            model=row.model,
            model_type=row.model_type,
            name=row.name,
            weight=row.weight,
            is_enabled=row.enabled,
            credential_id=row.credential_id,
            values=masked_values(row.sealed_values) if row.sealed_values else {},
            status=row.status,
            checked_at=row.checked_at,
            last_error=row.last_error,
            live_status=live.status if row.enabled else "disabled",
            cooldown_remaining_s=live.cooldown_remaining_s,
        )


def _check_weight(weight: int) -> None:
    if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= 1000:
        raise InvalidRequestError("weight is a whole number from 1 to 1000", field="weight")


async def _entry(session: AsyncSession, workspace_id: str, entry_id: str) -> LoadBalancingEntry:
    row = await session.get(LoadBalancingEntry, entry_id)
    if row is None or row.workspace_id != workspace_id:
        raise NotFoundError(f"load-balancing entry {entry_id!r} does not exist")
    return row


async def _credential(
    session: AsyncSession, workspace_id: str, credential_id: str, provider: str
) -> ProviderCredential:
    row = await session.get(ProviderCredential, credential_id)
    if row is None or row.workspace_id != workspace_id or row.provider != provider:
        raise NotFoundError(f"credential {credential_id!r} does not exist for {provider}")
    return row
