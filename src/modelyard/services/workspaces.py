"""Workspaces, their key pairs, and the configuration version every write bumps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.errors import InvalidRequestError, NotFoundError
from modelyard.services.change_feed import record_change
from modelyard.services.sealed import reseal
from modelyard.store.tables import (
    CustomModel,
    LoadBalancingEntry,
    ProviderCredential,
    Workspace,
    WorkspaceKey,
    new_id,
)
from modelyard.vault import KeyPair

if TYPE_CHECKING:
    from modelyard.services.context import Services

VERSION_CHANNEL = "workspace-version"


@dataclass(frozen=True, slots=True)
class WorkspaceView:
    id: str
    name: str
    created_at: datetime

    @classmethod
    def of(cls, row: Workspace) -> WorkspaceView:
        return cls(row.id, row.name, row.created_at)


async def bump_version(session: AsyncSession, *, workspace_id: str) -> None:
    """Mark the workspace's configuration changed; call inside the transaction that changes it."""
    await session.execute(
        update(Workspace).where(Workspace.id == workspace_id).values(config_version=Workspace.config_version + 1)
    )
    await record_change(session, workspace_id=workspace_id)


class WorkspaceService:
    def __init__(self, services: Services) -> None:
        self._services = services

    async def create(self, name: str) -> WorkspaceView:
        name = name.strip()
        if not name or len(name) > 120:
            raise InvalidRequestError("a workspace name is 1 to 120 characters", field="name")
        workspace_id = new_id("ws")
        pair = await self._services.vaults.new_key_pair(workspace_id)
        async with self._services.db.begin() as session:
            workspace = Workspace(id=workspace_id, name=name, active_key_id=pair.key_id)
            session.add(workspace)
            await session.flush()
            session.add(_key_row(workspace_id, pair))
            await self._services.quota.grant_trial(session, workspace_id=workspace_id)
        return WorkspaceView.of(workspace)

    async def list(self, *, account_id: str | None = None) -> list[WorkspaceView]:
        from modelyard.store.tables import Membership

        query = select(Workspace).order_by(Workspace.created_at, Workspace.id)
        if account_id is not None:
            query = query.join(Membership, Membership.workspace_id == Workspace.id).where(
                Membership.account_id == account_id
            )
        async with self._services.db() as session:
            return [WorkspaceView.of(row) for row in (await session.scalars(query)).all()]

    async def get(self, workspace_id: str) -> WorkspaceView:
        async with self._services.db() as session:
            row = await session.get(Workspace, workspace_id)
        if row is None:
            raise NotFoundError(f"workspace {workspace_id!r} does not exist")
        return WorkspaceView.of(row)

    async def rename(self, workspace_id: str, name: str) -> WorkspaceView:
        if not name.strip() or len(name.strip()) > 120:
            raise InvalidRequestError("a workspace name is 1 to 120 characters", field="name")
        async with self._services.db.begin() as session:
            row = await session.get(Workspace, workspace_id)
            if row is None:
                raise NotFoundError(f"workspace {workspace_id!r} does not exist")
            row.name = name.strip()
        return WorkspaceView.of(row)

    async def delete(self, workspace_id: str) -> None:
        async with self._services.db.begin() as session:
            result = await session.execute(delete(Workspace).where(Workspace.id == workspace_id))
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFoundError(f"workspace {workspace_id!r} does not exist")
            await record_change(session, workspace_id=workspace_id, deleted=True)  # other replicas forget it
        self._services.vaults.forget(workspace_id)
        await self._services.snapshots.invalidate(workspace_id)

    async def version(self, session: AsyncSession, *, workspace_id: str) -> int:
        version = await session.scalar(select(Workspace.config_version).where(Workspace.id == workspace_id))
        if version is None:
            raise NotFoundError(f"workspace {workspace_id!r} does not exist")
        return version

    async def rotate_keys(self, workspace_id: str) -> str:
        """Make a new key pair, re-seal every secret of the workspace with it, and drop the old keys."""
        vaults = self._services.vaults
        pair = await vaults.new_key_pair(workspace_id)
        async with self._services.db.begin() as session:
            old = await vaults.vault(session, workspace_id=workspace_id)
            session.add(_key_row(workspace_id, pair))
            await session.flush()
            new = vaults.opened(workspace_id, pair)
            for credential in await session.scalars(
                select(ProviderCredential).where(ProviderCredential.workspace_id == workspace_id)
            ):
                credential.sealed_values = reseal(credential.sealed_values, old, new)
            for custom in await session.scalars(select(CustomModel).where(CustomModel.workspace_id == workspace_id)):
                custom.sealed_values = reseal(custom.sealed_values, old, new)
            for entry in await session.scalars(
                select(LoadBalancingEntry).where(LoadBalancingEntry.workspace_id == workspace_id)
            ):
                if entry.sealed_values is not None:
                    entry.sealed_values = reseal(entry.sealed_values, old, new)
            await session.execute(
                update(Workspace).where(Workspace.id == workspace_id).values(active_key_id=pair.key_id)
            )
            await session.execute(
                delete(WorkspaceKey).where(WorkspaceKey.workspace_id == workspace_id, WorkspaceKey.id != pair.key_id)
            )
            await bump_version(session, workspace_id=workspace_id)
        vaults.keep(workspace_id, new)
        await self._services.snapshots.changed(workspace_id)
        return pair.key_id


def _key_row(workspace_id: str, pair: KeyPair) -> WorkspaceKey:
    return WorkspaceKey(
        id=pair.key_id,
        workspace_id=workspace_id,
        public_key_pem=pair.public_pem,
        sealed_private_key=pair.sealed_private,
    )
