"""Named provider credentials per workspace: sealed at rest, masked on read, checked by a live call on save."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.catalog.call_limits import call_limits
from modelyard.catalog.forms import check_values
from modelyard.catalog.spec import FormField
from modelyard.errors import ConflictError, CredentialValidationError, InvalidRequestError, NotFoundError
from modelyard.services.sealed import masked_values, merge_update, open_values, seal_values
from modelyard.services.workspaces import bump_version
from modelyard.store.tables import ProviderCredential, ProviderSetting, utcnow
from modelyard.types import ModelType

if TYPE_CHECKING:
    from modelyard.services.context import Services

Status = str  # verified | unverified | failing


@dataclass(frozen=True, slots=True)
class CredentialView:
    """A stored credential as anyone may see it: secrets masked."""

    id: str
    provider: str
    name: str
    values: dict[str, str]
    status: Status
    checked_at: datetime | None
    last_error: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


class CredentialService:
    def __init__(self, services: Services) -> None:
        self._services = services

    async def checked(
        self,
        provider: str,
        form: tuple[FormField, ...],
        values: Mapping[str, object],
        *,
        validate: bool,
        model: str | None = None,
        model_type: ModelType | None = None,
    ) -> tuple[dict[str, str], Status, str | None]:
        """Values the form accepts, and their status: `verified` after a live call, `unverified` without one."""
        accepted = check_values(form, values, model_type=model_type)  # a custom model's fields for its type
        call_limits(self._services.catalog.get(provider), accepted)  # a timeout or retry count that is no number
        if not validate:
            return accepted, "unverified", None
        checked = await self._services.runtime.validate_credentials(
            provider=provider, credentials=accepted, model=model, model_type=model_type
        )
        return checked, "verified", None

    async def create(
        self,
        *,
        workspace_id: str,
        provider: str,
        values: Mapping[str, object],
        name: str | None = None,
        validate: bool = True,
    ) -> CredentialView:
        spec = self._services.catalog.get(provider)
        if "predefined-model" not in spec.configuration_methods and "fetch-from-remote" not in (
            spec.configuration_methods
        ):
            raise InvalidRequestError(
                f"{provider} takes credentials per model; add a custom model instead"
            ).with_params(case="credentials_per_model", provider=provider)
        accepted, status, error = await self.checked(provider, spec.credentials, values, validate=validate)
        async with self._services.db.begin() as session:
            vault = await self._services.vaults.vault(session, workspace_id=workspace_id)
            if name is None:
                count = await session.scalar(
                    select(func.count()).where(
                        ProviderCredential.workspace_id == workspace_id, ProviderCredential.provider == provider
                    )
                )
                name = f"{spec.label.en_US} {int(count or 0) + 1}"
            row = ProviderCredential(
                workspace_id=workspace_id,
                provider=provider,
                name=_valid_name(name),
                sealed_values=seal_values(vault, spec.credentials, accepted),
                status=status,
                checked_at=utcnow() if validate else None,
                last_error=error,
            )
            session.add(row)
            await _flush_unique(session, f"a {provider} credential named {name!r} already exists")
            setting = await _setting(session, workspace_id, provider)
            if setting.active_credential_id is None:
                setting.active_credential_id = row.id  # the first credential becomes the active one
            await bump_version(session, workspace_id=workspace_id)
            view = _view(row, setting.active_credential_id)
        await self._services.snapshots.changed(workspace_id)
        return view

    async def update(
        self,
        *,
        workspace_id: str,
        credential_id: str,
        values: Mapping[str, object] | None = None,
        name: str | None = None,
        validate: bool = True,
    ) -> CredentialView:
        """Change some fields: others keep their stored value, and a secret sent back as its mask is kept."""
        async with self._services.db() as session:
            row = await self._row(session, workspace_id, credential_id)
            vault = await self._services.vaults.vault(session, workspace_id=workspace_id)
            stored = open_values(vault, row.sealed_values)
        spec = self._services.catalog.get(row.provider)
        merged = merge_update(stored, values or {})
        accepted, status, error = await self.checked(row.provider, spec.credentials, merged, validate=validate)
        async with self._services.db.begin() as session:
            row = await self._row(session, workspace_id, credential_id)
            row.sealed_values = seal_values(vault, spec.credentials, accepted)
            row.status, row.last_error = status, error
            row.checked_at = utcnow() if validate else row.checked_at
            if name is not None:
                row.name = _valid_name(name)
            await _flush_unique(session, f"a {row.provider} credential named {name!r} already exists")
            await bump_version(session, workspace_id=workspace_id)
            setting = await _setting(session, workspace_id, row.provider)
            view = _view(row, setting.active_credential_id)
        await self._services.snapshots.changed(workspace_id)
        return view

    async def list(self, *, workspace_id: str, provider: str | None = None) -> list[CredentialView]:
        query = select(ProviderCredential).where(ProviderCredential.workspace_id == workspace_id)
        if provider is not None:
            query = query.where(ProviderCredential.provider == provider)
        async with self._services.db() as session:
            rows = (await session.scalars(query.order_by(ProviderCredential.created_at))).all()
            active = set(
                (
                    await session.scalars(
                        select(ProviderSetting.active_credential_id).where(ProviderSetting.workspace_id == workspace_id)
                    )
                ).all()
            )
        return [_view(row, row.id if row.id in active else None) for row in rows]

    async def get(self, *, workspace_id: str, credential_id: str) -> CredentialView:
        async with self._services.db() as session:
            row = await self._row(session, workspace_id, credential_id)
            setting = await session.scalar(
                select(ProviderSetting).where(
                    ProviderSetting.workspace_id == workspace_id, ProviderSetting.provider == row.provider
                )
            )
        return _view(row, setting.active_credential_id if setting else None)

    async def delete(self, *, workspace_id: str, credential_id: str) -> None:
        """Delete a credential; if it was active, the oldest remaining one takes its place."""
        async with self._services.db.begin() as session:
            row = await self._row(session, workspace_id, credential_id)
            setting = await _setting(session, workspace_id, row.provider)
            await session.delete(row)
            await session.flush()
            if setting.active_credential_id in (None, credential_id):
                setting.active_credential_id = await session.scalar(
                    select(ProviderCredential.id)
                    .where(ProviderCredential.workspace_id == workspace_id, ProviderCredential.provider == row.provider)
                    .order_by(ProviderCredential.created_at)
                    .limit(1)
                )
            await bump_version(session, workspace_id=workspace_id)
        await self._services.snapshots.changed(workspace_id)

    async def activate(self, *, workspace_id: str, credential_id: str) -> CredentialView:
        async with self._services.db.begin() as session:
            row = await self._row(session, workspace_id, credential_id)
            setting = await _setting(session, workspace_id, row.provider)
            setting.active_credential_id = row.id
            await bump_version(session, workspace_id=workspace_id)
            view = _view(row, row.id)
        await self._services.snapshots.changed(workspace_id)
        return view

    async def validate(self, *, workspace_id: str, credential_id: str) -> CredentialView:
        """Check a stored credential again and record the outcome: verified, or failing with the error."""
        async with self._services.db() as session:
            row = await self._row(session, workspace_id, credential_id)
            vault = await self._services.vaults.vault(session, workspace_id=workspace_id)
            stored = open_values(vault, row.sealed_values)
        try:
            await self._services.runtime.validate_credentials(provider=row.provider, credentials=stored)
            status, error = "verified", None
        except CredentialValidationError as exc:
            status, error = "failing", str(exc)
        async with self._services.db.begin() as session:
            row = await self._row(session, workspace_id, credential_id)
            row.status, row.last_error, row.checked_at = status, error, utcnow()
            await bump_version(session, workspace_id=workspace_id)
            setting = await _setting(session, workspace_id, row.provider)
            view = _view(row, setting.active_credential_id)
        await self._services.snapshots.changed(workspace_id)
        return view

    async def _row(self, session: AsyncSession, workspace_id: str, credential_id: str) -> ProviderCredential:
        row = await session.get(ProviderCredential, credential_id)
        if row is None or row.workspace_id != workspace_id:  # another workspace's id reads as absent
            raise NotFoundError(f"credential {credential_id!r} does not exist").with_params(
                case="no_credential", id=credential_id
            )
        return row


async def _setting(session: AsyncSession, workspace_id: str, provider: str) -> ProviderSetting:
    setting = await session.scalar(
        select(ProviderSetting).where(
            ProviderSetting.workspace_id == workspace_id, ProviderSetting.provider == provider
        )
    )
    if setting is None:
        setting = ProviderSetting(workspace_id=workspace_id, provider=provider)
        session.add(setting)
        await session.flush()
    return setting


async def _flush_unique(session: AsyncSession, message: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError(message) from exc


def _valid_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 120:
        raise InvalidRequestError("a name is 1 to 120 characters", field="name")
    return name


def _view(row: ProviderCredential, active_id: str | None) -> CredentialView:
    return CredentialView(
        id=row.id,
        provider=row.provider,
        name=row.name,
        values=masked_values(row.sealed_values),
        status=row.status,
        checked_at=row.checked_at,
        last_error=row.last_error,
        is_active=row.id == active_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
