"""Workspaces, their key pairs, and the configuration version every write bumps."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.errors import DecryptionError, InvalidRequestError, NotFoundError
from modelyard.services.change_feed import record_change
from modelyard.services.lru import LRU
from modelyard.store.tables import (
    CustomModel,
    LoadBalancingEntry,
    ProviderCredential,
    Workspace,
    WorkspaceKey,
    new_id,
)
from modelyard.vault import KeyPair, WorkspaceVault, new_key_pair

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
        # Opened keys, kept across configuration changes (they change only on rotation), bounded like snapshots.
        self._vaults: LRU[str, WorkspaceVault] = LRU(services.settings.workspace_cache_size)

    async def create(self, name: str) -> WorkspaceView:
        name = name.strip()
        if not name or len(name) > 120:
            raise InvalidRequestError("a workspace name is 1 to 120 characters", field="name")
        workspace_id = new_id("ws")
        pair = await self._new_key_pair(workspace_id)
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
        self._vaults.pop(workspace_id)
        await self._services.snapshots.invalidate(workspace_id)

    async def version(self, session: AsyncSession, *, workspace_id: str) -> int:
        version = await session.scalar(select(Workspace.config_version).where(Workspace.id == workspace_id))
        if version is None:
            raise NotFoundError(f"workspace {workspace_id!r} does not exist")
        return version

    async def vault(self, session: AsyncSession, *, workspace_id: str) -> WorkspaceVault:
        """The workspace's vault: its keys are opened once and kept until they rotate, here or on another replica."""
        found = await self.versions_and_vaults(session, [workspace_id])
        if workspace_id not in found:
            raise NotFoundError(f"workspace {workspace_id!r} does not exist")
        outcome = found[workspace_id]
        if isinstance(outcome, DecryptionError):
            raise outcome
        return outcome[1]

    async def versions_and_vaults(
        self, session: AsyncSession, workspace_ids: Collection[str]
    ) -> dict[str, tuple[int, WorkspaceVault] | DecryptionError]:
        """Each existing workspace's configuration version and vault (or why it has none), in one read of the
        workspace rows, plus one of the key rows for vaults not kept yet: a kept vault is current while the row's
        active key id is its own."""
        rows = await session.execute(
            select(Workspace.id, Workspace.config_version, Workspace.active_key_id).where(
                Workspace.id.in_(workspace_ids)
            )
        )
        heads = {workspace_id: (version, active_key_id or "") for workspace_id, version, active_key_id in rows}
        kept = {workspace_id: self._vaults.get(workspace_id) for workspace_id in heads}
        missing = [ws for ws, vault in kept.items() if vault is None or vault.active_key_id != heads[ws][1]]
        loaded = await self._load_vaults(session, {workspace_id: heads[workspace_id][1] for workspace_id in missing})
        found: dict[str, tuple[int, WorkspaceVault] | DecryptionError] = {}
        for workspace_id, (version, _) in heads.items():
            vault = loaded[workspace_id] if workspace_id in loaded else kept[workspace_id]
            assert vault is not None
            if isinstance(vault, WorkspaceVault):
                self._vaults[workspace_id] = vault
                found[workspace_id] = (version, vault)
            else:
                found[workspace_id] = vault
        return found

    async def _load_vaults(
        self, session: AsyncSession, active_keys: Mapping[str, str]
    ) -> dict[str, WorkspaceVault | DecryptionError]:
        if not active_keys:
            return {}
        pairs: dict[str, dict[str, KeyPair]] = {workspace_id: {} for workspace_id in active_keys}
        for row in await session.scalars(select(WorkspaceKey).where(WorkspaceKey.workspace_id.in_(active_keys))):
            pairs[row.workspace_id][row.id] = KeyPair(row.id, row.public_key_pem, row.sealed_private_key)
        vaults: dict[str, WorkspaceVault | DecryptionError] = {}
        for workspace_id, active_key_id in active_keys.items():
            active = pairs[workspace_id].pop(active_key_id, None)
            if active is None:
                vaults[workspace_id] = DecryptionError(
                    f"workspace {workspace_id} has no key pair {active_key_id!r}: restore it from backup"
                )
                continue
            others = tuple(pairs[workspace_id].values())
            vaults[workspace_id] = WorkspaceVault(self._services.master, workspace_id, active, others)
        return vaults

    def forget_vault(self, workspace_id: str) -> None:
        """Drop the kept vault (the workspace is gone)."""
        self._vaults.pop(workspace_id)

    async def _new_key_pair(self, workspace_id: str) -> KeyPair:
        # ~75-150 ms of RSA key generation, which releases the GIL: in a thread, the loop serves others meanwhile.
        return await asyncio.to_thread(
            new_key_pair, self._services.master, workspace_id=workspace_id, key_id=new_id("wk")
        )

    async def rotate_keys(self, workspace_id: str) -> str:
        """Make a new key pair, re-seal every secret of the workspace with it, and drop the old keys."""
        pair = await self._new_key_pair(workspace_id)
        async with self._services.db.begin() as session:
            old = await self.vault(session, workspace_id=workspace_id)
            session.add(_key_row(workspace_id, pair))
            await session.flush()
            new = WorkspaceVault(self._services.master, workspace_id, pair)
            reseal = self._services.credentials.reseal
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
        self._vaults[workspace_id] = new
        await self._services.snapshots.changed(workspace_id)
        return pair.key_id


def _key_row(workspace_id: str, pair: KeyPair) -> WorkspaceKey:
    return WorkspaceKey(
        id=pair.key_id,
        workspace_id=workspace_id,
        public_key_pem=pair.public_pem,
        sealed_private_key=pair.sealed_private,
    )
