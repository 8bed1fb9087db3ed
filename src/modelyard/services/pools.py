"""Load-balancing entries: several credential sets for one model, each with a weight and a live state.

The model's own credentials (the provider's active credential, or a custom model's) are an entry too, as in Dify:
a row named INHERIT_NAME without values of its own, which follows whichever credential is active. It is made when
load balancing is switched on or a first entry is added; until then the listing shows it as it would be. Its
weight and switch are the user's; its values, name and existence are not.
"""

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
from modelyard.services.resolve import INHERIT_NAME
from modelyard.services.sealed import masked_values, merge_update, open_values, seal_values
from modelyard.services.snapshot import WorkspaceSnapshot
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
    is_inherit: bool = False  # the model's own credentials: the provider's active one, or the custom model's


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
        _check_not_reserved(name)
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
        snapshot = await self._services.snapshots.get(workspace_id)
        async with self._services.db.begin() as session:
            sealed = None
            if credential_id is not None:
                await _credential(session, workspace_id, credential_id, provider)
            else:
                vault = await self._services.vaults.vault(session, workspace_id=workspace_id)
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
            await self.ensure_inherit(session, snapshot, provider=provider, model=model, kind=kind)
            await bump_version(session, workspace_id=workspace_id)
        await self._services.snapshots.changed(workspace_id)
        return self._view(row, await self._services.snapshots.get(workspace_id))

    @staticmethod
    async def ensure_inherit(
        session: AsyncSession, snapshot: WorkspaceSnapshot, *, provider: str, model: str, kind: str
    ) -> None:
        """Add the entry for the model's own credentials, if the model has some and the pool lacks it."""
        workspace_id = snapshot.workspace_id
        if _base(snapshot, (provider, model, kind)) is None or await _inherit_row(
            session, workspace_id, provider, model, kind
        ):
            return
        session.add(
            LoadBalancingEntry(
                workspace_id=workspace_id, provider=provider, model=model, model_type=kind, name=INHERIT_NAME
            )
        )
        await session.flush()

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
            vault = await self._services.vaults.vault(session, workspace_id=workspace_id)
        sealed = row.sealed_values
        status, error, checked = row.status, row.last_error, row.checked_at
        if row.name == INHERIT_NAME and (values is not None or name is not None):
            field = "values" if values is not None else "name"
            raise InvalidRequestError(
                "this entry is the model's own credentials: edit those; only its weight and switch change here",
                field=field,
            )
        if name is not None:
            _check_not_reserved(name)
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
        return self._view(row, await self._services.snapshots.get(workspace_id))

    async def delete(self, *, workspace_id: str, entry_id: str) -> None:
        async with self._services.db.begin() as session:
            row = await _entry(session, workspace_id, entry_id)
            if row.name == INHERIT_NAME:
                raise InvalidRequestError("the model's own credentials stay in its pool: switch the entry off instead")
            await session.delete(row)
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
        snapshot = await self._services.snapshots.get(workspace_id)
        views = [self._view(row, snapshot) for row in rows]
        views.sort(key=lambda view: not view.is_inherit)  # the model's own credentials first
        if not any(view.is_inherit for view in views) and _base(snapshot, (provider, model, model_type)):
            # Not made yet (load balancing was never switched on here): shown as it will be, with no id to edit.
            placeholder = LoadBalancingEntry(
                id="",
                workspace_id=workspace_id,
                provider=provider,
                model=model,
                model_type=model_type,
                name=INHERIT_NAME,
                weight=1,
                enabled=True,
                status="unverified",
            )
            views.insert(0, self._view(placeholder, snapshot))
        return views

    async def validate(self, *, workspace_id: str, entry_id: str) -> PoolEntryView:
        """Check an entry again; a verified entry that the balancer took out (auth failure) comes back."""
        async with self._services.db() as session:
            row = await _entry(session, workspace_id, entry_id)
            vault = await self._services.vaults.vault(session, workspace_id=workspace_id)
            if row.name == INHERIT_NAME:
                snapshot = await self._services.snapshots.get(workspace_id)
                base = _base(snapshot, (row.provider, row.model, row.model_type))
                if base is None:
                    raise InvalidRequestError("this model has no credentials of its own to check")
                values = dict(base[2])
            elif row.credential_id is not None:
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
        return self._view(row, await self._services.snapshots.get(workspace_id))

    async def _form(self, workspace_id: str, provider: str, model: str, model_type: str) -> tuple[FormField, ...]:
        snapshot = await self._services.snapshots.get(workspace_id)
        spec = self._services.catalog.get(provider)
        is_custom = (provider, model, model_type) in snapshot.custom_models
        return spec.model_credentials if is_custom else spec.credentials

    def _view(self, row: LoadBalancingEntry, snapshot: WorkspaceSnapshot) -> PoolEntryView:
        key = pool_key(row.workspace_id, row.provider, row.model, row.model_type)
        live = self._services.balancer.state(key, [PoolEntry(row.id, row.weight)])[0]
        credential_id, status = row.credential_id, row.status
        is_inherit = row.name == INHERIT_NAME
        if is_inherit:  # its status is that of the credentials it stands for, whichever is active now
            base = _base(snapshot, (row.provider, row.model, row.model_type))
            credential_id, status = (base[0], base[1]) if base is not None else (None, "unverified")
        return PoolEntryView(
            id=row.id,
            provider=row.provider,
            model=row.model,
            model_type=row.model_type,
            name=row.name,
            weight=row.weight,
            is_enabled=row.enabled,
            credential_id=credential_id,
            values=masked_values(row.sealed_values) if row.sealed_values else {},
            status=status,
            checked_at=row.checked_at,
            last_error=row.last_error,
            live_status=live.status if row.enabled else "disabled",
            cooldown_remaining_s=live.cooldown_remaining_s,
            is_inherit=is_inherit,
        )


def _base(snapshot: WorkspaceSnapshot, key: tuple[str, str, str]) -> tuple[str, str, Mapping[str, str]] | None:
    """The model's own credentials (id, status, values): a custom model's, else the provider's active one."""
    custom = snapshot.custom_models.get(key)
    if custom is not None:
        return custom.id, custom.status, custom.credentials
    state = snapshot.providers.get(key[0])
    if state is None or state.credential_id is None or state.credentials is None:
        return None
    return state.credential_id, state.credential_status or "unverified", state.credentials


async def _inherit_row(
    session: AsyncSession, workspace_id: str, provider: str, model: str, kind: str
) -> LoadBalancingEntry | None:
    return await session.scalar(
        select(LoadBalancingEntry).where(
            LoadBalancingEntry.workspace_id == workspace_id,
            LoadBalancingEntry.provider == provider,
            LoadBalancingEntry.model == model,
            LoadBalancingEntry.model_type == kind,
            LoadBalancingEntry.name == INHERIT_NAME,
        )
    )


def _check_not_reserved(name: str) -> None:
    if name.strip() == INHERIT_NAME:
        raise InvalidRequestError(f"{INHERIT_NAME!r} is the name of the model's own credentials entry", field="name")


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
