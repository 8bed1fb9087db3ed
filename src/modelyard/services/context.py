"""The composition root: one `Services` per process wires the store, the vault, the cache and the use cases.

Each use case is built on first use, importing its module then: a CLI command that lists workspaces loads the
workspace service, not the runtime, the governor or the catalog (a third of a second of imports). `start()`, as a
long-running process calls it, builds and starts them all; `start_for_command()` leaves them to first use.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import select

from modelyard.settings import Settings
from modelyard.store.cache import cache_for
from modelyard.store.database import create_engine, migrate, session_factory
from modelyard.store.tables import SystemSetting
from modelyard.vault import MasterKey, MasterKeyError

if TYPE_CHECKING:
    from modelyard.catalog.loader import Catalog
    from modelyard.runtime import Runtime
    from modelyard.runtime.timeouts import Timeouts
    from modelyard.services.accounts import AccountService
    from modelyard.services.aliases import AliasService
    from modelyard.services.api_keys import ApiKeyService
    from modelyard.services.balancer import LoadBalancer
    from modelyard.services.cooldowns import Cooldowns
    from modelyard.services.credentials import CredentialService
    from modelyard.services.defaults import DefaultModelService
    from modelyard.services.governance import Governor
    from modelyard.services.hosted import HostedConfig
    from modelyard.services.idempotency import IdempotencyService
    from modelyard.services.invoke import Invoker
    from modelyard.services.models import ModelService
    from modelyard.services.pools import PoolService
    from modelyard.services.providers import ProviderService
    from modelyard.services.quota import QuotaService
    from modelyard.services.response_cache import ResponseCache
    from modelyard.services.responses import ResponseStore
    from modelyard.services.retention import Retention
    from modelyard.services.snapshot import SnapshotService
    from modelyard.services.usage import UsageRecorder
    from modelyard.services.vaults import Vaults
    from modelyard.services.workspaces import WorkspaceService

_MASTER_CHECK = "master_key_check"
_MASTER_CHECK_PLAINTEXT = b"modelyard master key check"


class Services:
    """Everything a face (gateway, console, CLI) needs; `start()` before use, `close()` at shutdown."""

    def __init__(
        self,
        settings: Settings,
        *,
        catalog: Catalog | None = None,
        runtime: Runtime | None = None,
        hosted: HostedConfig | None = None,
    ) -> None:
        self.settings = settings
        self._catalog = catalog
        self._runtime = runtime
        self._hosted = hosted
        self.engine = create_engine(settings.database_url, schema=settings.database_schema)
        self.db = session_factory(self.engine)
        self.cache = cache_for(settings.redis_url)
        self.master = MasterKey.load(settings.secret_key, settings.home)

    @cached_property
    def catalog(self) -> Catalog:
        from modelyard.catalog.loader import default_catalog

        return self._catalog or default_catalog()

    @cached_property
    def timeouts(self) -> Timeouts:
        """The upstream timeouts: the given runtime's, else those of the runtime built here.

        Quota reservations and idempotency leases outlive `total_s`; they read it here without building a runtime
        (aiohttp and every protocol: a third of a second for a CLI command).
        """
        if self._runtime is not None:
            return self._runtime.transport.timeouts
        from modelyard.runtime.timeouts import Timeouts

        return Timeouts()

    @cached_property
    def runtime(self) -> Runtime:
        if self._runtime is not None:
            return self._runtime
        from modelyard.runtime import Runtime

        return Runtime(
            self._catalog,
            timeouts=self.timeouts,
            upstream_policy=self.settings.upstream_policy,
            machine_identity=self.settings.machine_identity,
        )

    @cached_property
    def hosted(self) -> HostedConfig:
        if self._hosted is not None:
            return self._hosted
        from modelyard.services.hosted import load_hosted_config

        return load_hosted_config(self.settings.hosted_config, self.catalog)

    @cached_property
    def vaults(self) -> Vaults:
        from modelyard.services.vaults import Vaults

        return Vaults(self.master, capacity=self.settings.workspace_cache_size)

    @cached_property
    def workspaces(self) -> WorkspaceService:
        from modelyard.services.workspaces import WorkspaceService

        return WorkspaceService(self)

    @cached_property
    def accounts(self) -> AccountService:
        from modelyard.services.accounts import AccountService

        return AccountService(self)

    @cached_property
    def api_keys(self) -> ApiKeyService:
        from modelyard.services.api_keys import ApiKeyService

        return ApiKeyService(self.db, self.cache)

    @cached_property
    def credentials(self) -> CredentialService:
        from modelyard.services.credentials import CredentialService

        return CredentialService(self)

    @cached_property
    def providers(self) -> ProviderService:
        from modelyard.services.providers import ProviderService

        return ProviderService(self)

    @cached_property
    def models(self) -> ModelService:
        from modelyard.services.models import ModelService

        return ModelService(self)

    @cached_property
    def pools(self) -> PoolService:
        from modelyard.services.pools import PoolService

        return PoolService(self)

    @cached_property
    def defaults(self) -> DefaultModelService:
        from modelyard.services.defaults import DefaultModelService

        return DefaultModelService(self)

    @cached_property
    def quota(self) -> QuotaService:
        from modelyard.services.quota import QuotaService

        return QuotaService(self)

    @cached_property
    def balancer(self) -> LoadBalancer:
        from modelyard.services.balancer import LoadBalancer

        return LoadBalancer(self.cache)

    @cached_property
    def cooldowns(self) -> Cooldowns:
        from modelyard.services.cooldowns import cooldowns_for

        return cooldowns_for(self.cache)

    @cached_property
    def aliases(self) -> AliasService:
        from modelyard.services.aliases import AliasService

        return AliasService(self.db, self.snapshots, self.catalog, self.cooldowns)

    @cached_property
    def usage(self) -> UsageRecorder:
        from modelyard.services.usage import UsageRecorder

        return UsageRecorder(self)

    @cached_property
    def snapshots(self) -> SnapshotService:
        from modelyard.services.snapshot import SnapshotService

        return SnapshotService(self)

    @cached_property
    def governor(self) -> Governor:
        from modelyard.services.governance import Governor, WorkspacePolicies

        return Governor(
            self.db,
            self.cache,
            WorkspacePolicies(self.db, self.cache, capacity=self.settings.workspace_cache_size),
            dialect=self.engine.dialect.name,
            call_timeout_s=self.timeouts.total_s,
        )

    @cached_property
    def invoker(self) -> Invoker:
        from modelyard.services.invoke import Invoker

        return Invoker(self)

    @cached_property
    def idempotency(self) -> IdempotencyService:
        from modelyard.services.idempotency import IdempotencyService

        return IdempotencyService.create(
            self.engine,
            self.cache,
            call_timeout_s=self.timeouts.total_s,
            ttl_s=self.settings.idempotency_hours * 3600,
        )

    @cached_property
    def responses(self) -> ResponseStore:
        from modelyard.services.responses import ResponseStore

        return ResponseStore(self.engine, self.cache)

    @cached_property
    def response_cache(self) -> ResponseCache:
        from modelyard.services.response_cache import ResponseCache

        return ResponseCache.create(
            self.db,
            self.cache,
            capacity=self.settings.workspace_cache_size,
            max_bytes=self.settings.response_cache_mb * 1024 * 1024,
        )

    @cached_property
    def retention(self) -> Retention:
        from modelyard.services.retention import Retention

        return Retention.of(self.engine, self.settings)

    async def start(self, *, run_migrations: bool = True) -> None:
        """For a long-running process: every use case built and started (background writers, subscriptions)."""
        await self.start_for_command(run_migrations=run_migrations)
        await self.balancer.start()
        await self.snapshots.start()
        await self.usage.start()
        await self.api_keys.start()
        await self.quota.start()
        await self.governor.start()
        await self.idempotency.start()
        await self.responses.start()
        self.retention.start()  # prunes old usage records and ledger rows every hour, first after ten minutes

    async def start_for_command(self, *, run_migrations: bool = True) -> None:
        """For one command, then `close()`: the schema and the master key checked, the cache connected.

        The use cases are built when first used and not started: their background writers and change watchers
        serve a process that lives on, and `close()` writes whatever they queued.
        """
        if run_migrations:
            await migrate(self.engine)
        await self._check_master_key()
        await self.cache.start()

    async def close(self) -> None:
        """Close what was built, in the order their writes need; what was never used is not built to be closed."""
        if self._is_built("retention"):
            await self.retention.close()  # a pruning batch cut short rolls back
        if self._is_built("invoker"):
            await self.invoker.drain()
        if self._is_built("api_keys"):
            await self.api_keys.close()
        if self._is_built("usage"):
            await self.usage.close()  # flushes what is queued: nothing recorded is lost on a graceful stop
        if self._is_built("responses"):
            await self.responses.close()  # likewise for stored responses
        if self._is_built("quota"):
            await self.quota.close()
        if self._is_built("governor"):
            await self.governor.close()
        if self._is_built("idempotency"):
            await self.idempotency.close()
        if self._is_built("snapshots"):
            await self.snapshots.close()
        if self._is_built("balancer"):
            await self.balancer.close()  # finishes the cool-down writes it queued for Redis
        await self.cache.close()
        if self._is_built("runtime") or self._runtime is not None:
            await self.runtime.close()
        await self.engine.dispose()

    def _is_built(self, name: str) -> bool:
        return name in self.__dict__  # where cached_property keeps what it built

    async def _check_master_key(self) -> None:
        """Refuse to start with a master key other than the one this database's secrets were sealed with."""
        async with self.db.begin() as session:
            row = await session.get(SystemSetting, _MASTER_CHECK)
            if row is None:
                sealed = self.master.seal(_MASTER_CHECK_PLAINTEXT, context=_MASTER_CHECK)
                session.add(SystemSetting(key=_MASTER_CHECK, value=sealed.hex()))
                return
            try:
                self.master.open(bytes.fromhex(row.value), context=_MASTER_CHECK)
            except Exception as exc:
                raise MasterKeyError(
                    "the master key (MODELYARD_SECRET_KEY or the key file under MODELYARD_HOME) is not the one "
                    "this database was created with; start with the original key, or restore it from backup"
                ) from exc

    async def workspace_exists(self, workspace_id: str) -> bool:
        from modelyard.store.tables import Workspace

        async with self.db() as session:
            return await session.scalar(select(Workspace.id).where(Workspace.id == workspace_id)) is not None
