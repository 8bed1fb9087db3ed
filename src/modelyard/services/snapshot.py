"""The per-workspace configuration snapshot: what steady-state invocation reads instead of the database.

A snapshot holds a workspace's providers, decrypted credentials, custom models, model switches, load-balancing
pools and defaults, under the workspace's `config_version`. Every configuration write bumps that version and
calls `changed()`, which drops the local copy and tells other replicas (Redis pub/sub when configured). A
background poll compares cached versions with the database, so a replica also notices writes it was not told
about (no Redis, or a lost message).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.catalog.spec import ModelSpec, ProviderSpec
from modelyard.errors import ModelyardError
from modelyard.services.hosted import HostedProvider
from modelyard.services.sealed import open_values
from modelyard.store.tables import (
    CustomModel,
    DefaultModel,
    LoadBalancingEntry,
    ModelSetting,
    ProviderCredential,
    ProviderSetting,
    Workspace,
)
from modelyard.types.value import Value, repr_without_credentials
from modelyard.vault import WorkspaceVault

if TYPE_CHECKING:
    from modelyard.services.context import Services

log = logging.getLogger(__name__)
ModelKey = tuple[str, str, str]  # (provider, model, model type)
VERSION_CHANNEL = "workspace-changed"
POLL_INTERVAL_S = 5.0


class ProviderState(Value, frozen=True):
    """A provider as one workspace has it: its own credentials, the hosted offer, the preferred type."""

    spec: ProviderSpec
    credential_id: str | None = None
    credentials: Mapping[str, str] | None = None  # the active credential, decrypted
    credential_status: str | None = None
    preferred_type: str | None = None  # system | custom | None (automatic)
    hosted: HostedProvider | None = None

    __repr__ = repr_without_credentials

    @property
    def has_custom(self) -> bool:
        return self.credentials is not None


class CustomModelState(Value, frozen=True):
    id: str
    provider: str
    spec: ModelSpec
    credentials: Mapping[str, str]
    status: str = "unverified"

    __repr__ = repr_without_credentials


class PoolMember(Value, frozen=True):
    """One credential set of a load-balanced model."""

    id: str
    name: str
    weight: int
    credentials: Mapping[str, str]

    __repr__ = repr_without_credentials


class WorkspaceSnapshot(Value, frozen=True):
    workspace_id: str
    version: int
    providers: Mapping[str, ProviderState]  # every catalog provider, configured or not
    custom_models: Mapping[ModelKey, CustomModelState]
    disabled: frozenset[ModelKey]
    pools: Mapping[ModelKey, tuple[PoolMember, ...]]  # models with load balancing switched on
    defaults: Mapping[str, tuple[str, str]]  # model type -> (provider, model)
    # Results derived from this snapshot (resolved names, call targets): valid as long as the snapshot is,
    # so the hot path computes each once per configuration version.
    memo: dict[Any, Any] = msgspec.field(default_factory=dict)


class SnapshotService:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._snapshots: dict[str, WorkspaceSnapshot] = {}
        self._building: dict[str, asyncio.Future[WorkspaceSnapshot]] = {}
        self._generation: dict[str, int] = {}  # bumped by changed(): a build that began before it is discarded
        self._poller: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._services.cache.subscribe(self._on_message)
        self._poller = asyncio.create_task(self._poll(), name="modelyard-snapshot-poll")

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller

    async def get(self, workspace_id: str) -> WorkspaceSnapshot:
        """The workspace's snapshot; in steady state a dictionary lookup, no database access."""
        snapshot = self._snapshots.get(workspace_id)
        if snapshot is not None:
            return snapshot
        pending = self._building.get(workspace_id)
        if pending is not None:  # many requests, one build
            return await asyncio.shield(pending)
        future: asyncio.Future[WorkspaceSnapshot] = asyncio.get_running_loop().create_future()
        self._building[workspace_id] = future
        generation = self._generation.get(workspace_id, 0)
        try:
            snapshot = await self._build(workspace_id)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            self._building.pop(workspace_id, None)
        if self._generation.get(workspace_id, 0) == generation:
            self._snapshots[workspace_id] = snapshot
        future.set_result(snapshot)
        return snapshot

    async def changed(self, workspace_id: str) -> None:
        """Call after a committed configuration write: drops this replica's copy and tells the others."""
        await self.invalidate(workspace_id)
        await self._services.cache.publish(VERSION_CHANNEL, workspace_id)

    async def invalidate(self, workspace_id: str) -> None:
        self._generation[workspace_id] = self._generation.get(workspace_id, 0) + 1
        self._snapshots.pop(workspace_id, None)
        self._services.workspaces.forget_vault(workspace_id)

    async def _on_message(self, channel: str, message: str) -> None:
        if channel == VERSION_CHANNEL:
            await self.invalidate(message)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_INTERVAL_S)
            try:
                await self.check_versions()
            except ModelyardError:
                raise
            except Exception:  # the database may be briefly away; the next round tries again
                log.warning("snapshot version check failed", exc_info=True)

    async def check_versions(self) -> None:
        """Drop every cached snapshot whose workspace version moved on (a write another replica made)."""
        cached = {ws: snap.version for ws, snap in self._snapshots.items()}
        if not cached:
            return
        async with self._services.db() as session:
            rows = await session.execute(
                select(Workspace.id, Workspace.config_version).where(Workspace.id.in_(list(cached)))
            )
            current = {workspace_id: version for workspace_id, version in rows.all()}
        for workspace_id, version in cached.items():
            if current.get(workspace_id) != version:
                await self.invalidate(workspace_id)

    async def _build(self, workspace_id: str) -> WorkspaceSnapshot:
        async with self._services.db() as session:
            version = await self._services.workspaces.version(session, workspace_id=workspace_id)
            vault = await self._services.workspaces.vault(session, workspace_id=workspace_id)
            providers = await self._providers(session, workspace_id, vault)
            custom_models = {}
            for row in await _rows(session, CustomModel, workspace_id):
                values = open_values(vault, row.sealed_values)
                binding = self._services.runtime.binding(row.provider)
                spec = binding.model(row.model, row.model_type, values)
                custom_models[(row.provider, row.model, row.model_type)] = CustomModelState(
                    row.id, row.provider, spec, values, row.status
                )
            settings = await _rows(session, ModelSetting, workspace_id)
            disabled = frozenset((s.provider, s.model, s.model_type) for s in settings if not s.enabled)
            balanced = {(s.provider, s.model, s.model_type) for s in settings if s.load_balancing}
            pools = await self._pools(session, workspace_id, vault, balanced)
            defaults = {
                row.model_type: (row.provider, row.model) for row in await _rows(session, DefaultModel, workspace_id)
            }
        return WorkspaceSnapshot(workspace_id, version, providers, custom_models, disabled, pools, defaults)

    async def _providers(
        self, session: AsyncSession, workspace_id: str, vault: WorkspaceVault
    ) -> dict[str, ProviderState]:
        settings = {row.provider: row for row in await _rows(session, ProviderSetting, workspace_id)}
        active_ids = {s.active_credential_id for s in settings.values() if s.active_credential_id}
        credentials = {
            row.id: row for row in await _rows(session, ProviderCredential, workspace_id) if row.id in active_ids
        }
        states = {}
        for spec in self._services.catalog:
            setting = settings.get(spec.id)
            credential = credentials.get(setting.active_credential_id or "") if setting else None
            states[spec.id] = ProviderState(
                spec=spec,
                credential_id=credential.id if credential else None,
                credentials=open_values(vault, credential.sealed_values) if credential else None,
                credential_status=credential.status if credential else None,
                preferred_type=setting.preferred_type if setting else None,
                hosted=self._services.hosted.providers.get(spec.id),
            )
        return states

    async def _pools(
        self,
        session: AsyncSession,
        workspace_id: str,
        vault: WorkspaceVault,
        balanced: set[ModelKey],
    ) -> dict[ModelKey, tuple[PoolMember, ...]]:
        if not balanced:
            return {}
        referenced = {row.id: row for row in await _rows(session, ProviderCredential, workspace_id)}
        pools: dict[ModelKey, list[PoolMember]] = {}
        for entry in await _rows(session, LoadBalancingEntry, workspace_id):
            key = (entry.provider, entry.model, entry.model_type)
            if key not in balanced or not entry.enabled:
                continue
            if entry.credential_id is not None:
                source = referenced.get(entry.credential_id)
                if source is None:
                    continue
                values = open_values(vault, source.sealed_values)
            else:
                values = open_values(vault, entry.sealed_values or "{}")
            pools.setdefault(key, []).append(PoolMember(entry.id, entry.name, entry.weight, values))
        return {key: tuple(members) for key, members in pools.items()}


async def _rows(session: AsyncSession, table: type, workspace_id: str) -> list:  # type: ignore[type-arg]
    return list((await session.scalars(select(table).where(table.workspace_id == workspace_id))).all())  # type: ignore[attr-defined]
