"""A process killed (kill -9) between reserving hosted quota and closing it loses no charge: its reservations are
settled as reserved once no call could still close them, and the counter, the database and the ledger agree.
On SQLite and PostgreSQL, counted by the database or by Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as redis
from sqlalchemy import select

from modelyard.runtime import Runtime
from modelyard.services.context import Services
from modelyard.services.hosted import HostedConfig, HostedProvider
from modelyard.store.tables import HostedQuota
from tests.support import SECRET, make_settings, redis_url, require_redis

TRIAL = HostedProvider("deepseek", {"api_key": SECRET}, "trial", "times", 50)
HOSTED = HostedConfig(providers={"deepseek": TRIAL})

# Reserves four calls, releases one, and waits to be killed: the ledger writer never flushes, so whatever is not
# written at reservation time (or kept in Redis) dies with it.
CHILD = """
import asyncio, sys
from pathlib import Path
from modelyard.services.quota import ledger
from modelyard.services.context import Services
from modelyard.services.hosted import HostedConfig, HostedProvider
from modelyard.settings import Settings

ledger.FLUSH_INTERVAL_S = 3600.0
home, database_url, schema, redis_url, workspace_id = sys.argv[1:]
trial = HostedProvider("deepseek", {"api_key": "unused"}, "trial", "times", 50)
settings = Settings(home=Path(home), database_url=database_url, database_schema=schema or None,
                    redis_url=redis_url or None, secret_key="%s", host="127.0.0.1", port=0, hosted_config=None)

async def main():
    services = Services(settings, hosted=HostedConfig(providers={"deepseek": trial}))
    await services.start(run_migrations=False)
    held = [await services.quota.reserve(workspace_id=workspace_id, provider="deepseek", model="deepseek-flash")
            for _ in range(4)]
    await services.quota.release(held[0])
    print("reserved", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@pytest.fixture(params=["database-counter", "redis-counter"])
def counter(request: pytest.FixtureRequest) -> str | None:
    if request.param == "redis-counter":
        require_redis()
        return redis_url()
    return None


@pytest.fixture
async def services(
    database: tuple[str, str | None], tmp_path: Path, runtime: Runtime, counter: str | None
) -> AsyncIterator[Services]:
    backend, schema = database
    services = Services(make_settings(tmp_path, backend, schema, redis_url=counter), runtime=runtime, hosted=HOSTED)
    await services.start()
    workspaces = []
    try:
        yield services
    finally:
        workspaces = [row.id for row in await services.workspaces.list()] if counter else []
        await services.close()
        if counter is not None:
            client = redis.from_url(counter)
            for workspace_id in workspaces:
                async for key in client.scan_iter(match=f"modelyard:quota:{{{workspace_id}:*"):
                    await client.delete(key)
            await client.aclose()


async def killed_while_reserving(services: Services, workspace_id: str) -> None:
    settings = services.settings
    assert settings.secret_key is not None
    script = CHILD % settings.secret_key
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, str(settings.home), settings.database_url, settings.database_schema or "",
        settings.redis_url or "", workspace_id,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=os.environ.copy(),
    )  # fmt: skip
    assert child.stdout is not None and child.stderr is not None
    line = await asyncio.wait_for(child.stdout.readline(), timeout=60)
    assert line == b"reserved\n", (await child.stderr.read()).decode()
    child.send_signal(signal.SIGKILL)
    await child.wait()


async def agreed_used(services: Services, workspace_id: str) -> int:
    """`quota show`'s figure, the database's `used` and the ledger's sum, which must be one number."""
    await services.quota.flush()
    ledger = await services.quota.ledger(workspace_id=workspace_id)
    [status] = await services.quota.status(workspace_id=workspace_id)
    async with services.db() as session:
        stored = await session.scalar(select(HostedQuota.used).where(HostedQuota.workspace_id == workspace_id))
    assert status.used == stored == sum(entry.amount for entry in ledger)
    opened = {entry.reservation_id for entry in ledger if entry.kind == "reserve"}
    closed = {entry.reservation_id for entry in ledger if entry.kind != "reserve"}
    assert opened == closed, "a reservation is still open"
    return status.used


async def test_a_killed_process_loses_no_charge_and_quota_and_ledger_agree(
    services: Services, counter: str | None
) -> None:
    workspace_id = (await services.workspaces.create("Crash")).id
    await killed_while_reserving(services, workspace_id)

    services.quota.reconciler.stale_after_s = 0  # as if the calls' total timeout had passed
    settled = await services.quota.reconcile()

    used = await agreed_used(services, workspace_id)
    if counter is None:
        # The release was still queued in the dead process: that reservation is charged too (the documented rule).
        assert (settled, used) == (4, 4)
    else:
        # Redis kept every row (the release too) in the quota's journal until written.
        assert (settled, used) == (3, 3)
    assert await services.quota.reconcile() == 0  # nothing left to settle, and settling twice changes nothing
    assert await agreed_used(services, workspace_id) == used


async def test_a_reservation_whose_call_may_still_run_is_left_open(services: Services) -> None:
    workspace_id = (await services.workspaces.create("Busy")).id
    held = await services.quota.reserve(workspace_id=workspace_id, provider="deepseek", model="deepseek-flash")

    assert await services.quota.reconcile() == 0  # younger than the calls' total timeout

    await services.quota.release(held)
    assert await agreed_used(services, workspace_id) == 0
