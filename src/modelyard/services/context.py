"""The composition root: one `Services` per process wires the store, the vault, the cache and the use cases."""

from __future__ import annotations

from sqlalchemy import select

from modelyard.catalog.loader import Catalog, default_catalog
from modelyard.runtime import Runtime
from modelyard.services.accounts import AccountService
from modelyard.services.api_keys import ApiKeyService
from modelyard.services.balancer import LoadBalancer
from modelyard.services.credentials import CredentialService
from modelyard.services.defaults import DefaultModelService
from modelyard.services.governance import Governor, WorkspacePolicies
from modelyard.services.hosted import HostedConfig, load_hosted_config
from modelyard.services.idempotency import IdempotencyService
from modelyard.services.invoke import Invoker
from modelyard.services.models import ModelService
from modelyard.services.pools import PoolService
from modelyard.services.providers import ProviderService
from modelyard.services.quota import QuotaService
from modelyard.services.response_cache import ResponseCache
from modelyard.services.responses import ResponseStore
from modelyard.services.snapshot import SnapshotService
from modelyard.services.usage import UsageRecorder
from modelyard.services.vaults import Vaults
from modelyard.services.workspaces import WorkspaceService
from modelyard.settings import Settings
from modelyard.store.cache import cache_for
from modelyard.store.database import create_engine, migrate, session_factory
from modelyard.store.tables import SystemSetting
from modelyard.vault import MasterKey, MasterKeyError

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
        self.catalog = catalog or default_catalog()
        self.runtime = runtime or Runtime(catalog, upstream_policy=settings.upstream_policy)
        self.engine = create_engine(settings.database_url, schema=settings.database_schema)
        self.db = session_factory(self.engine)
        self.cache = cache_for(settings.redis_url)
        self.master = MasterKey.load(settings.secret_key, settings.home)
        self.hosted = hosted if hosted is not None else load_hosted_config(settings.hosted_config, self.catalog)
        self.vaults = Vaults(self.master, capacity=settings.workspace_cache_size)
        self.workspaces = WorkspaceService(self)
        self.accounts = AccountService(self)
        self.api_keys = ApiKeyService(self.db, self.cache)
        self.credentials = CredentialService(self)
        self.providers = ProviderService(self)
        self.models = ModelService(self)
        self.pools = PoolService(self)
        self.defaults = DefaultModelService(self)
        self.quota = QuotaService(self)
        self.balancer = LoadBalancer(self.cache)
        self.usage = UsageRecorder(self)
        self.snapshots = SnapshotService(self)
        self.governor = Governor(
            self.db,
            self.cache,
            WorkspacePolicies(self.db, self.cache, capacity=settings.workspace_cache_size),
            dialect=self.engine.dialect.name,
            call_timeout_s=self.runtime.transport.timeouts.total_s,
        )
        self.invoker = Invoker(self)
        self.idempotency = IdempotencyService.create(
            self.engine,
            self.cache,
            call_timeout_s=self.runtime.transport.timeouts.total_s,
            ttl_s=settings.idempotency_hours * 3600,
        )
        self.responses = ResponseStore(self.engine, self.cache)
        self.response_cache = ResponseCache.create(
            self.db,
            self.cache,
            capacity=settings.workspace_cache_size,
            max_bytes=settings.response_cache_mb * 1024 * 1024,
        )

    async def start(self, *, run_migrations: bool = True) -> None:
        if run_migrations:
            await migrate(self.engine)
        await self._check_master_key()
        await self.cache.start()
        await self.balancer.start()
        await self.snapshots.start()
        await self.usage.start()
        await self.api_keys.start()
        await self.quota.start()
        await self.governor.start()
        await self.idempotency.start()
        await self.responses.start()

    async def close(self) -> None:
        await self.invoker.drain()
        await self.api_keys.close()
        await self.usage.close()  # flushes what is queued: nothing recorded is lost on a graceful stop
        await self.responses.close()  # likewise for stored responses
        await self.quota.close()
        await self.governor.close()
        await self.idempotency.close()
        await self.snapshots.close()
        await self.balancer.close()  # finishes the cool-down writes it queued for Redis
        await self.cache.close()
        await self.runtime.close()
        await self.engine.dispose()

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
