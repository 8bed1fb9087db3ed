"""Workspaces' vaults: each workspace's key pair, opened with the master key once and kept until it rotates.

A piece below the workspace and credential services, which both use it: workspaces make and rotate key pairs,
credentials, custom models and load-balancing entries seal and open their secrets, and neither reaches the other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.errors import DecryptionError, NotFoundError
from modelyard.services.lru import LRU
from modelyard.store.tables import Workspace, WorkspaceKey, new_id
from modelyard.vault import KeyPair, MasterKey, WorkspaceVault, new_key_pair


class Vaults:
    """The opened vaults of this process, LRU-bounded like the snapshots; a kept vault is current while its
    workspace row names its key as the active one (a rotation elsewhere changes that)."""

    def __init__(self, master: MasterKey, *, capacity: int) -> None:
        self._master = master
        self._vaults: LRU[str, WorkspaceVault] = LRU(capacity)

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
        loaded = await self._load(session, {workspace_id: heads[workspace_id][1] for workspace_id in missing})
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

    async def new_key_pair(self, workspace_id: str) -> KeyPair:
        # ~75-150 ms of RSA key generation, which releases the GIL: in a thread, the loop serves others meanwhile.
        return await asyncio.to_thread(new_key_pair, self._master, workspace_id=workspace_id, key_id=new_id("wk"))

    def opened(self, workspace_id: str, pair: KeyPair) -> WorkspaceVault:
        """A vault of a key pair just made (it seals with it at once)."""
        return WorkspaceVault(self._master, workspace_id, pair)

    def keep(self, workspace_id: str, vault: WorkspaceVault) -> None:
        self._vaults[workspace_id] = vault

    def forget(self, workspace_id: str) -> None:
        """Drop the kept vault (the workspace is gone)."""
        self._vaults.pop(workspace_id)

    def __contains__(self, workspace_id: object) -> bool:
        return workspace_id in self._vaults

    def peek(self, workspace_id: str) -> WorkspaceVault | None:
        """The kept vault, without counting as a use."""
        return self._vaults.peek(workspace_id)

    def __len__(self) -> int:
        return len(self._vaults)

    async def _load(
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
            vaults[workspace_id] = WorkspaceVault(self._master, workspace_id, active, others)
        return vaults
