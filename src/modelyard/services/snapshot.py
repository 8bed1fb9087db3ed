"""The per-workspace configuration snapshot: what steady-state invocation reads instead of the database.

A snapshot holds a workspace's providers, decrypted credentials, custom models, model switches, load-balancing
pools and defaults, under the workspace's `config_version`. Every configuration write bumps that version and
calls `changed()`, which drops the local copy and tells other replicas (Redis pub/sub when configured). A
background poll reads the configuration change feed (services/change_feed.py), so a replica also notices writes
it was not told about (no Redis, or a lost message). Snapshots are kept in an LRU of MODELYARD_WORKSPACE_CACHE_SIZE.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.catalog.spec import ModelSpec, ProviderSpec
from modelyard.errors import ModelyardError
from modelyard.services.change_feed import ChangeFeed
from modelyard.services.hosted import HostedProvider
from modelyard.services.lru import LRU
from modelyard.services.sealed import open_values
from modelyard.store.tables import (
    CustomModel,
    DefaultModel,
    LoadBalancingEntry,
    ModelSetting,
    ProviderCredential,
    ProviderSetting,
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


class ProviderStates(Mapping[str, ProviderState]):
    """Every catalog provider as one workspace has it, in catalog order.

    Only the providers the workspace configured have a state of their own; the others share one per-process
    default (no credentials, the operator's hosted offer), so a snapshot's memory grows with what its workspace set
    up, not with the catalog.
    """

    __slots__ = ("_own", "_shared")

    def __init__(self, own: dict[str, ProviderState], shared: Mapping[str, ProviderState]) -> None:
        self._own = own
        self._shared = shared

    def __getitem__(self, provider: str) -> ProviderState:
        state = self._own.get(provider)
        return state if state is not None else self._shared[provider]

    def __iter__(self) -> Iterator[str]:
        return iter(self._shared)

    def __len__(self) -> int:
        return len(self._shared)

    def __contains__(self, provider: object) -> bool:
        return provider in self._shared


class _Build:
    """A snapshot being built: every caller awaits the same task, and a change meanwhile keeps its result out of
    the cache (the callers still get it: they asked before the change was known here)."""

    __slots__ = ("stale", "task")

    def __init__(self) -> None:
        self.stale = False
        self.task: asyncio.Task[WorkspaceSnapshot]


class SnapshotService:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._snapshots: LRU[str, WorkspaceSnapshot] = LRU(services.settings.workspace_cache_size)
        self._building: dict[str, _Build] = {}
        self._shared_states: dict[str, ProviderState] = {}
        self._feed = ChangeFeed()
        self._poller: asyncio.Task[None] | None = None

    async def start(self) -> None:
        async with self._services.db() as session:
            await self._feed.start(session)
        self._services.cache.subscribe(self._on_message)
        self._poller = asyncio.create_task(self._poll(), name="modelyard-snapshot-poll")

    async def close(self) -> None:
        tasks: list[asyncio.Task[Any]] = [build.task for build in self._building.values()]
        if self._poller is not None:
            tasks.append(self._poller)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def get(self, workspace_id: str) -> WorkspaceSnapshot:
        """The workspace's snapshot; in steady state a dictionary lookup, no database access."""
        snapshot = self._snapshots.get(workspace_id)
        if snapshot is not None:
            return snapshot
        build = self._building.get(workspace_id)
        if build is None:  # many requests, one build; it is a task of its own, so a caller that goes away
            build = self._building[workspace_id] = _Build()  # does not cancel it for the others
            build.task = asyncio.create_task(self._build_and_keep(workspace_id, build), name="modelyard-snapshot")
            build.task.add_done_callback(lambda task: self._built(workspace_id, build))
        return await asyncio.shield(build.task)

    async def _build_and_keep(self, workspace_id: str, build: _Build) -> WorkspaceSnapshot:
        snapshot = await self._build(workspace_id)
        if not build.stale:
            self._snapshots[workspace_id] = snapshot
        return snapshot

    def _built(self, workspace_id: str, build: _Build) -> None:
        if self._building.get(workspace_id) is build:
            del self._building[workspace_id]
        if not build.task.cancelled():
            build.task.exception()  # retrieved: every caller may have gone away

    async def changed(self, workspace_id: str) -> None:
        """Call after a committed configuration write: drops this replica's copy and tells the others."""
        await self.invalidate(workspace_id)
        await self._services.cache.publish(VERSION_CHANNEL, workspace_id)

    async def invalidate(self, workspace_id: str) -> None:
        """Forget the workspace's snapshot; its opened keys stay (they change only when rotated, which a rebuild
        notices)."""
        build = self._building.get(workspace_id)
        if build is not None:
            build.stale = True
        self._snapshots.pop(workspace_id)

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
        """Drop every cached snapshot an unseen write made stale (another replica's, when Redis did not tell us).

        Reads the change feed since the last check: its cost follows the writes, not the workspaces cached.
        """
        async with self._services.db() as session:
            changes = await self._feed.read(session)
        if changes is None:  # this replica could not read the feed for too long: it may have missed anything
            log.warning("the configuration change feed was out of reach too long; dropping every cached workspace")
            for build in self._building.values():
                build.stale = True
            self._snapshots.clear()
            return
        for change in changes:
            cached = self._snapshots.peek(change.workspace_id)
            if change.version is None:
                self._services.workspaces.forget_vault(change.workspace_id)
                await self.invalidate(change.workspace_id)
            elif change.workspace_id in self._building or (cached is not None and cached.version < change.version):
                await self.invalidate(change.workspace_id)
        async with self._services.db.begin() as session:
            await self._feed.prune(session)

    async def _build(self, workspace_id: str) -> WorkspaceSnapshot:
        async with self._services.db() as session:
            version, vault = await self._services.workspaces.version_and_vault(session, workspace_id=workspace_id)
            settings = await _rows(session, ProviderSetting, workspace_id)
            credentials = {row.id: row for row in await _rows(session, ProviderCredential, workspace_id)}
            customs = await _rows(session, CustomModel, workspace_id)
            switches = await _rows(session, ModelSetting, workspace_id)
            balanced = {(s.provider, s.model, s.model_type) for s in switches if s.load_balancing}
            entries = await _rows(session, LoadBalancingEntry, workspace_id) if balanced else []
            defaults = {
                row.model_type: (row.provider, row.model) for row in await _rows(session, DefaultModel, workspace_id)
            }
        active = {s.provider: credentials.get(s.active_credential_id or "") for s in settings}
        members = [e for e in entries if e.enabled and (e.provider, e.model, e.model_type) in balanced]
        sealed = {row.sealed_values for row in active.values() if row is not None}
        sealed.update(row.sealed_values for row in customs)
        sealed.update(text for member in members if (text := _member_values(member, credentials)) is not None)
        # RSA-OAEP unwrapping costs ~1 ms of CPU per secret at 3,072 bits: off the loop, which serves everyone.
        opened = await asyncio.to_thread(_open_all, vault, sealed) if sealed else {}
        custom_models = {}
        for row in customs:
            values = opened[row.sealed_values]
            spec = self._services.runtime.binding(row.provider).model(row.model, row.model_type, values)
            custom_models[(row.provider, row.model, row.model_type)] = CustomModelState(
                row.id, row.provider, spec, values, row.status
            )
        pools: dict[ModelKey, list[PoolMember]] = {}
        for member in members:
            values_text = _member_values(member, credentials)
            if values_text is None:
                continue  # its credential was deleted
            key = (member.provider, member.model, member.model_type)
            pools.setdefault(key, []).append(PoolMember(member.id, member.name, member.weight, opened[values_text]))
        return WorkspaceSnapshot(
            workspace_id,
            version,
            self._provider_states(settings, active, opened),
            custom_models,
            frozenset((s.provider, s.model, s.model_type) for s in switches if not s.enabled),
            {key: tuple(group) for key, group in pools.items()},
            defaults,
        )

    def _provider_states(
        self,
        settings: list[ProviderSetting],
        active: Mapping[str, ProviderCredential | None],
        opened: Mapping[str, Mapping[str, str]],
    ) -> ProviderStates:
        shared = self._shared_provider_states()
        own = {}
        for setting in settings:
            default = shared.get(setting.provider)
            if default is None:
                continue  # a provider the catalog no longer has
            credential = active.get(setting.provider)
            own[setting.provider] = ProviderState(
                spec=default.spec,
                credential_id=credential.id if credential else None,
                credentials=opened[credential.sealed_values] if credential else None,
                credential_status=credential.status if credential else None,
                preferred_type=setting.preferred_type,
                hosted=default.hosted,
            )
        return ProviderStates(own, shared)

    def _shared_provider_states(self) -> dict[str, ProviderState]:
        """The state of a provider a workspace has not configured, one per process; remade if the hosted offer
        changed (snapshots built before keep the states they were built with)."""
        hosted = self._services.hosted.providers
        shared = self._shared_states
        if len(shared) != len(self._services.catalog) or any(
            state.hosted is not hosted.get(provider) for provider, state in shared.items()
        ):
            shared = self._shared_states = {
                spec.id: ProviderState(spec=spec, hosted=hosted.get(spec.id)) for spec in self._services.catalog
            }
        return shared


def _member_values(member: LoadBalancingEntry, credentials: Mapping[str, ProviderCredential]) -> str | None:
    """A pool member's sealed values: its own, or those of the provider credential it names (None: deleted)."""
    if member.credential_id is None:
        return member.sealed_values or "{}"
    source = credentials.get(member.credential_id)
    return source.sealed_values if source is not None else None


def _open_all(vault: WorkspaceVault, sealed: set[str]) -> dict[str, dict[str, str]]:
    return {text: open_values(vault, text) for text in sealed}


async def _rows(session: AsyncSession, table: type, workspace_id: str) -> list:  # type: ignore[type-arg]
    return list((await session.scalars(select(table).where(table.workspace_id == workspace_id))).all())  # type: ignore[attr-defined]
