"""`modelyard serve`: prepare the data directory and database, make sure someone can sign in, then run the server."""

from __future__ import annotations

import asyncio
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from modelyard.cli.cores import usable_cores
from modelyard.cli.home import check_database
from modelyard.cli.output import emit, json_option
from modelyard.settings import Settings

if TYPE_CHECKING:
    from modelyard.services.accounts import AccountView
    from modelyard.services.workspaces import WorkspaceView

OWNER_PASSWORD_ENV = "MODELYARD_OWNER_PASSWORD"
WORKER_STOP_TIMEOUT_S = 30  # as Kubernetes' default grace period: in-flight calls get that long to finish


class WorkerCount(click.ParamType[int]):
    """`--workers`: a positive number, or `auto` for one worker per core this process may use."""

    name = "N|auto"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        text = str(value).strip().lower()
        if text == "auto":
            return usable_cores()
        if text.isdigit() and int(text) >= 1:
            return int(text)
        self.fail(f"{value!r} is neither a positive number nor 'auto'", param, ctx)


@dataclass(frozen=True, slots=True)
class FirstRun:
    """What `serve` did so that someone can sign in: nothing (accounts exist), an owner, or a setup token."""

    owner: AccountView | None = None
    workspace: WorkspaceView | None = None
    setup_token: str | None = None


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on.  [default: MODELYARD_HOST or 127.0.0.1]")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="[default: MODELYARD_PORT or 8080]")
@click.option(
    "--workers",
    type=WorkerCount(),
    default="auto",
    metavar="N|auto",
    help="Worker processes: a number, or auto, one per core this process may use (its CPU affinity, capped by a "
    "cgroup CPU quota such as docker --cpus, rounded down).  [default: auto]",
)
@click.option(
    "--owner-email",
    envvar="MODELYARD_OWNER_EMAIL",
    default=None,
    help=f"With no account yet, create this owner (password from ${OWNER_PASSWORD_ENV} or asked for) "
    f"and a first workspace. Without it, a one-time setup link is printed.  [env: MODELYARD_OWNER_EMAIL]",
)
@click.option("--access-log/--no-access-log", default=False, help="Log every request (off: metrics count them).")
@json_option
def serve(
    host: str | None, port: int | None, workers: int, owner_email: str | None, access_log: bool, as_json: bool
) -> None:
    """Run the gateway, the console API and the web console in one service.

    On first run this creates MODELYARD_HOME and the database schema. With --json, what it did is printed as one
    JSON document before the server starts; the server's own log goes to stderr.

    The workers share the database (quota, usage, configuration). Without MODELYARD_REDIS_URL each keeps its own
    load-balancer cool-downs, sign-in counts and caches: see the README, Operating, Workers.
    """
    owner_password = os.environ.pop(OWNER_PASSWORD_ENV, None)  # used once here; workers need not inherit it
    settings = Settings.from_env()
    host = host or settings.host
    port = port or settings.port
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    first_run = asyncio.run(_prepare(settings, owner_email, owner_password))
    # Workers build their Settings from the environment: make it say what this command was told, and that the
    # schema is migrated already (a worker that migrates keeps Alembic in memory for nothing, ≈ 13 MB).
    os.environ.update(MODELYARD_HOST=host, MODELYARD_PORT=str(port), MODELYARD_MIGRATE_ON_START="0")
    metrics_dir = _prometheus_multiprocess(settings.home) if workers > 1 else None
    url = f"http://{_browsable(host)}:{port}"
    _report(first_run, url=url, home=settings.home, workers=workers, metrics_dir=metrics_dir, as_json=as_json)
    run_server(host=host, port=port, workers=workers, access_log=access_log)


def run_server(*, host: str, port: int, workers: int, access_log: bool) -> None:
    """Replace this process with granian (a Rust HTTP server, on uvloop) serving `modelyard.server:create_app`.

    Measured on one core here (2026-11, bench/): the same raw ASGI relay answered ≈ 2,300 req/s under granian
    and ≈ 920 under uvicorn with httptools, so the server decides much of the gateway's throughput. The process
    is replaced (exec), not reused: preparing imported the whole service, and granian's supervising process
    need not carry that memory for its life.

    A worker that has not stopped WORKER_STOP_TIMEOUT_S after SIGTERM is killed: granian (2.8) installs its signal
    handlers only once the app is loaded, so a worker told to stop while still loading never stops by itself, and
    with several workers the service answers (and can be stopped) before every worker has loaded.
    """
    command = [
        sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
        "--host", host, "--port", str(port), "--workers", str(workers),
        "--workers-kill-timeout", str(_worker_stop_timeout_s()),
        "--loop", "uvloop", "--http", "1", "--no-ws", "--backlog", "2048",
        "--access-log" if access_log else "--no-access-log",
        "modelyard.server:create_app",
    ]  # fmt: skip
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)


def _worker_stop_timeout_s() -> int:
    """Past the drain time (MODELYARD_DRAIN_TIMEOUT_S), with room to stop the calls left and write usage and ledger."""
    return max(WORKER_STOP_TIMEOUT_S, math.ceil(Settings.from_env().drain_timeout_s) + 10)


async def _prepare(settings: Settings, owner_email: str | None, owner_password: str | None) -> FirstRun:
    """Migrate and check the master key (Services.start does both); with no account yet, open the door once."""
    from modelyard.console.setup import complete_setup, setup_token
    from modelyard.services.context import Services

    services = Services(settings)
    try:
        await check_database(services.engine, settings)  # unreachable, or no PostgreSQL schema: one line
        await services.start()
        token = await setup_token(services)  # None once an account exists
        if token is None:
            return FirstRun()
        if not owner_email:
            return FirstRun(setup_token=token)
        if not owner_password:
            owner_password = await asyncio.to_thread(_ask_owner_password)
        # The same path as the console's setup form, so the first owner is made one way only.
        owner, workspace = await complete_setup(services, token=token, email=owner_email, password=owner_password)
        return FirstRun(owner=owner, workspace=workspace)
    finally:
        await services.close()


def _ask_owner_password() -> str:
    if sys.stdin.isatty():
        password: str = click.prompt("Owner password", hide_input=True, confirmation_prompt=True, err=True)
        return password
    password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not password:
        raise click.ClickException(f"set {OWNER_PASSWORD_ENV}, or pipe the owner's password on stdin")
    return password


def _prometheus_multiprocess(home: Path) -> Path:
    """Let the workers' metrics add up: each writes its samples under one directory that /metrics reads.

    The directory must start empty (samples of a previous run would be counted again) and be named in the
    environment before any worker imports prometheus_client.
    """
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    directory = Path(configured) if configured else home / "prometheus"
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):  # only prometheus_client's files: the operator may have chosen the dir
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return directory


def _browsable(host: str) -> str:
    """The host to put in a link: a wildcard address is not one a browser can open."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _report(
    first_run: FirstRun, *, url: str, home: Path, workers: int, metrics_dir: Path | None, as_json: bool
) -> None:
    setup_url = f"{url}/#/setup?token={first_run.setup_token}" if first_run.setup_token else None
    owner = first_run.owner
    data = {
        "url": url,
        "home": str(home.resolve()),
        "workers": workers,
        "metrics_dir": str(metrics_dir) if metrics_dir else None,
        "owner": None
        if owner is None
        else {"id": owner.id, "email": owner.email, "workspace_id": first_run.workspace and first_run.workspace.id},
        "setup_url": setup_url,
    }
    lines = [f"modelyard on {url} (data in {home.resolve()}, {workers} worker{'s' if workers > 1 else ''})"]
    if owner is not None and first_run.workspace is not None:
        lines.append(f"Created the owner account {owner.email} and workspace {first_run.workspace.id}.")
    if setup_url is not None:
        lines += ["No account exists yet. Open this one-time link to create the owner:", f"  {setup_url}"]
    emit(data, as_json, text="\n".join(lines))
