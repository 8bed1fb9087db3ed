"""The per-workspace configuration snapshot: what steady-state invocation reads instead of the database.

A snapshot holds a workspace's providers, decrypted credentials, custom models, model switches, load-balancing
pools, defaults and model aliases, under the workspace's `config_version`. Every configuration write bumps that
version and calls `changed()`, which drops the local copy and tells other replicas (Redis pub/sub when configured).
A background poll reads the configuration change feed (services/change_feed.py), so a replica also notices writes
it was not told about (no Redis, or a lost message). Snapshots are kept in an LRU of MODELYARD_WORKSPACE_CACHE_SIZE.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.catalog.spec import ModelSpec, ProviderSpec
from modelyard.errors import DecryptionError, ModelyardError, NotFoundError
from modelyard.services.change_feed import ChangeFeed
from modelyard.services.hosted import HostedProvider
from modelyard.services.lru import LRU
from modelyard.services.sealed import open_values
from modelyard.store.tables import (
    CustomModel,
    DefaultModel,
    LoadBalancingEntry,
    ModelAlias,
    ModelSetting,
    ProviderCredential,
    ProviderSetting,
)
from modelyard.types import ModelType
from modelyard.types.value import Value, repr_without_credentials
from modelyard.vault import WorkspaceVault

if TYPE_CHECKING:
    from modelyard.services.context import Services

log = logging.getLogger(__name__)
ModelKey = tuple[str, str, str]  # (provider, model, model type)
VERSION_CHANNEL = "workspace-changed"
POLL_INTERVAL_S = 5.0
_BATCH_MAX = 200  # workspaces built together; each query binds one parameter per workspace
_T = TypeVar("_T")


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


class AliasTarget(Value, frozen=True):
    """One model an alias names, with its share of the calls (0: tried only when another failed)."""

    provider: str
    model: str
    weight: int

    @property
    def name(self) -> str:
        return f"{self.provider}/{self.model}"


class AliasState(Value, frozen=True):
    """A workspace's model alias (services/aliases.py): its targets in fallback order, and the call's budgets."""

    name: str
    model_type: str
    targets: tuple[AliasTarget, ...]
    max_attempts: int
    max_time_s: int


class WorkspaceSnapshot(Value, frozen=True):
    workspace_id: str
    version: int
    providers: Mapping[str, ProviderState]  # every catalog provider, configured or not
    custom_models: Mapping[ModelKey, CustomModelState]
    disabled: frozenset[ModelKey]
    pools: Mapping[ModelKey, tuple[PoolMember, ...]]  # models with load balancing switched on
    defaults: Mapping[str, tuple[str, str]]  # model type -> (provider, model)
    aliases: Mapping[str, AliasState] = msgspec.field(default_factory=dict)  # by name
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
    """A snapshot being built: every caller awaits the same future, and a change meanwhile keeps its result out of
    the cache (the callers still get it: they asked before the change was known here)."""

    __slots__ = ("future", "stale")

    def __init__(self, future: asyncio.Future[WorkspaceSnapshot]) -> None:
        self.future = future
        self.stale = False


class SnapshotService:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._snapshots: LRU[str, WorkspaceSnapshot] = LRU(services.settings.workspace_cache_size)
        self._building: dict[str, _Build] = {}
        self._queued: list[str] = []  # workspaces whose build waits for the next batch
        self._builder: asyncio.Task[None] | None = None
        self._shared_states: dict[str, ProviderState] = {}
        self._feed = ChangeFeed()
        self._poller: asyncio.Task[None] | None = None

    async def start(self) -> None:
        async with self._services.db() as session:
            await self._feed.start(session)
        self._services.cache.subscribe(self._on_message)
        self._poller = asyncio.create_task(self._poll(), name="modelyard-snapshot-poll")

    async def close(self) -> None:
        for task in (self._builder, self._poller):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def get(self, workspace_id: str) -> WorkspaceSnapshot:
        """The workspace's snapshot; in steady state a dictionary lookup, no database access."""
        snapshot = self._snapshots.get(workspace_id)
        if snapshot is not None:
            return snapshot
        build = self._building.get(workspace_id)
        if build is None:  # many requests, one build; a caller that goes away does not cancel it for the others
            build = self._building[workspace_id] = _Build(asyncio.get_running_loop().create_future())
            self._queued.append(workspace_id)
            if self._builder is None or self._builder.done():
                self._builder = asyncio.create_task(self._build_queued(), name="modelyard-snapshot-builds")
        return await asyncio.shield(build.future)

    async def _build_queued(self) -> None:
        """Build what is queued, in batches: after a restart, the first calls of many workspaces arrive together,
        and one batch reads them with one query per table instead of one per table and workspace."""
        await asyncio.sleep(0)  # the first calls made in this turn of the loop join the batch
        while self._queued:
            batch, self._queued = self._queued[:_BATCH_MAX], self._queued[_BATCH_MAX:]
            try:
                outcomes = await self._build_many(batch)
            except asyncio.CancelledError:  # closing
                for workspace_id in batch + self._queued:
                    self._building.pop(workspace_id).future.cancel()
                self._queued = []
                raise
            except Exception as exc:  # the database failed the whole batch
                outcomes = dict.fromkeys(batch, exc)
            for workspace_id in batch:
                self._finish(workspace_id, outcomes[workspace_id])

    def _finish(self, workspace_id: str, outcome: WorkspaceSnapshot | Exception) -> None:
        build = self._building.pop(workspace_id)
        if isinstance(outcome, Exception):
            build.future.set_exception(outcome)
            build.future.exception()  # retrieved: every caller may have gone away
            return
        if not build.stale:
            self._snapshots[workspace_id] = outcome
        build.future.set_result(outcome)

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
                self._services.vaults.forget(change.workspace_id)
                await self.invalidate(change.workspace_id)
            elif change.workspace_id in self._building or (cached is not None and cached.version < change.version):
                await self.invalidate(change.workspace_id)
        if self._feed.prune_due:
            async with self._services.db.begin() as session:
                await self._feed.prune(session)

    async def _build_many(self, workspace_ids: list[str]) -> dict[str, WorkspaceSnapshot | Exception]:
        async with self._services.db() as session:
            heads = await self._services.vaults.versions_and_vaults(session, workspace_ids)
            found = [workspace_id for workspace_id, head in heads.items() if not isinstance(head, Exception)]
            settings = await _rows(session, ProviderSetting, found)
            credentials = await _rows(session, ProviderCredential, found)
            customs = await _rows(session, CustomModel, found)
            switches = await _rows(session, ModelSetting, found)
            balanced = [ws for ws in found if any(switch.load_balancing for switch in switches.get(ws, ()))]
            entries = await _rows(session, LoadBalancingEntry, balanced)
            defaults = await _rows(session, DefaultModel, found)
            aliases = await _rows(session, ModelAlias, found)
        rows = {}
        for ws, head in heads.items():
            if isinstance(head, Exception):
                continue
            version, vault = head
            rows[ws] = _WorkspaceRows(
                version,
                vault,
                settings.get(ws, []),
                {row.id: row for row in credentials.get(ws, [])},
                customs.get(ws, []),
                switches.get(ws, []),
                entries.get(ws, []),
                defaults.get(ws, []),
                aliases.get(ws, []),
            )
        # RSA-OAEP unwrapping costs ~1 ms of CPU per secret at 3,072 bits: off the loop, which serves everyone.
        opened = await asyncio.to_thread(_open_each, rows)
        outcomes: dict[str, WorkspaceSnapshot | Exception] = {}
        for workspace_id in workspace_ids:
            if workspace_id not in heads:
                outcomes[workspace_id] = NotFoundError(f"workspace {workspace_id!r} does not exist")
            elif isinstance(failed := heads[workspace_id], Exception):
                outcomes[workspace_id] = failed
            elif isinstance(values := opened[workspace_id], Exception):
                outcomes[workspace_id] = values
            else:
                try:
                    outcomes[workspace_id] = self._assemble(rows[workspace_id], values)
                except ModelyardError as exc:  # one workspace's bad row fails that workspace alone
                    outcomes[workspace_id] = exc
        return outcomes

    def _assemble(self, rows: _WorkspaceRows, opened: Mapping[str, Mapping[str, str]]) -> WorkspaceSnapshot:
        custom_models = {}
        for row in rows.customs:
            values = opened[row.sealed_values]
            model_type = cast(ModelType, row.model_type)  # checked when it was stored
            spec = self._services.runtime.binding(row.provider).model(row.model, model_type, values)
            custom_models[(row.provider, row.model, row.model_type)] = CustomModelState(
                row.id, row.provider, spec, values, row.status
            )
        pools: dict[ModelKey, list[PoolMember]] = {}
        for member in rows.pool_members():
            sealed = rows.member_values(member)
            if sealed is None:
                continue  # its credential was deleted
            key = (member.provider, member.model, member.model_type)
            pools.setdefault(key, []).append(PoolMember(member.id, member.name, member.weight, opened[sealed]))
        return WorkspaceSnapshot(
            rows.vault.workspace_id,
            rows.version,
            self._provider_states(rows, opened),
            custom_models,
            frozenset((s.provider, s.model, s.model_type) for s in rows.switches if not s.enabled),
            {key: tuple(group) for key, group in pools.items()},
            {row.model_type: (row.provider, row.model) for row in rows.defaults},
            {row.name: alias_state(row) for row in rows.aliases},
        )

    def _provider_states(self, rows: _WorkspaceRows, opened: Mapping[str, Mapping[str, str]]) -> ProviderStates:
        shared = self._shared_provider_states()
        own = {}
        for setting in rows.settings:
            default = shared.get(setting.provider)
            if default is None:
                continue  # a provider the catalog no longer has
            credential = rows.active_credential(setting)
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


@dataclass(frozen=True, slots=True)
class _WorkspaceRows:
    """One workspace's configuration rows, as one batch read them."""

    version: int
    vault: WorkspaceVault
    settings: list[ProviderSetting]
    credentials: dict[str, ProviderCredential]
    customs: list[CustomModel]
    switches: list[ModelSetting]
    entries: list[LoadBalancingEntry]
    defaults: list[DefaultModel]
    aliases: list[ModelAlias]

    def active_credential(self, setting: ProviderSetting) -> ProviderCredential | None:
        return self.credentials.get(setting.active_credential_id or "")

    def pool_members(self) -> list[LoadBalancingEntry]:
        balanced = {(s.provider, s.model, s.model_type) for s in self.switches if s.load_balancing}
        return [e for e in self.entries if e.enabled and (e.provider, e.model, e.model_type) in balanced]

    def member_values(self, member: LoadBalancingEntry) -> str | None:
        """A pool member's sealed values: its own, or those of the credential it names (None: deleted)."""
        if member.credential_id is None:
            return member.sealed_values or "{}"
        source = self.credentials.get(member.credential_id)
        return source.sealed_values if source is not None else None

    def sealed_texts(self) -> set[str]:
        """Every stored value set the snapshot holds opened."""
        texts = {credential.sealed_values for s in self.settings if (credential := self.active_credential(s))}
        texts.update(row.sealed_values for row in self.customs)
        texts.update(text for member in self.pool_members() if (text := self.member_values(member)) is not None)
        return texts


def alias_state(row: ModelAlias) -> AliasState:
    """An alias as stored (its targets were checked when it was written)."""
    targets = tuple(AliasTarget(t["provider"], t["model"], t["weight"]) for t in json.loads(row.targets))
    return AliasState(row.name, row.model_type, targets, row.max_attempts, row.max_time_s)


def _open_each(rows: Mapping[str, _WorkspaceRows]) -> dict[str, dict[str, dict[str, str]] | DecryptionError]:
    """Each workspace's sealed values opened, or the error that stopped it (which fails only that workspace)."""
    opened: dict[str, dict[str, dict[str, str]] | DecryptionError] = {}
    for workspace_id, workspace in rows.items():
        try:
            opened[workspace_id] = {text: open_values(workspace.vault, text) for text in workspace.sealed_texts()}
        except DecryptionError as exc:
            opened[workspace_id] = exc
    return opened


async def _rows(session: AsyncSession, table: type[_T], workspace_ids: list[str]) -> dict[str, list[_T]]:
    """The table's rows of these workspaces, by workspace (one query: batches stay well under bind-parameter
    limits)."""
    grouped: dict[str, list[_T]] = {}
    if workspace_ids:
        column = table.workspace_id  # type: ignore[attr-defined]
        for row in await session.scalars(select(table).where(column.in_(workspace_ids))):
            grouped.setdefault(row.workspace_id, []).append(row)  # type: ignore[attr-defined]
    return grouped
