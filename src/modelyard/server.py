"""The service: one ASGI app serving the gateway (/v1), the console API and web console, metrics and health.

What the gateway does not need is loaded on first use: the console (FastAPI, its routes and schemas) is built by the
first request it serves, in a thread so the event loop keeps relaying meanwhile; health and metrics are answered
without it (probes.py). An idle service that answers only /v1 and its probes holds ≈ 14 MB less.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from modelyard.gateway.app import Gateway
from modelyard.gateway.exchange import Receive, Scope, Send
from modelyard.gateway.metrics import Metrics
from modelyard.probes import Probes
from modelyard.services.context import Services
from modelyard.settings import Settings

ASGIApp = Any
log = logging.getLogger(__name__)


class ModelyardApp:
    """Routes `/v1/...` straight to the gateway (the hot path skips the console's framework) and the rest to
    the console; runs the services' start and close in the ASGI lifespan, and drains the calls in flight on a stop."""

    def __init__(self, services: Services, *, console: ASGIApp | None = None) -> None:
        self.services = services
        self.metrics = Metrics()
        self.gateway = Gateway(services, self.metrics)
        self.probes = Probes(services, self.metrics.registry)
        self._console: ASGIApp | None = console
        self._console_built: asyncio.Future[ASGIApp] | None = None
        self._console_calls: set[asyncio.Task[Any]] = set()
        self._draining: asyncio.Future[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" and scope["path"].startswith("/v1/"):
            await self.gateway(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif not (kind == "http" and await self.probes.answer(scope, send)):
            task = asyncio.current_task()
            if task is not None:
                self._console_calls.add(task)
                task.add_done_callback(self._console_calls.discard)
            console = self._console if self._console is not None else await self._console_in_a_thread()
            await console(scope, receive, send)

    @property
    def console(self) -> ASGIApp:
        """The console app (FastAPI), built here on first use when no request has built it yet."""
        if self._console is None:
            self._console = self._build_console()
        return self._console

    def _build_console(self) -> ASGIApp:
        from modelyard.console.app import create_console

        return create_console(self.services, self.metrics)

    async def _console_in_a_thread(self) -> ASGIApp:
        """The console, built once for every request that waits on it: importing and building it takes ≈ 0.8 s
        of CPU, which in the event loop's thread would stall every call in flight for as long."""
        if self._console_built is None:
            self._console_built = asyncio.ensure_future(asyncio.to_thread(self._build_console))
        built = await asyncio.shield(self._console_built)
        if self._console is None:
            self._console = built
        return self._console

    def drain(self) -> asyncio.Future[None]:
        """Let the calls in flight finish for up to MODELYARD_DRAIN_TIMEOUT_S, then end them: gateway streams with an
        error event, JSON calls with a 503, console calls cancelled; their upstream calls close and their reservations
        are released. Started once, by the stop signal or the lifespan shutdown, whichever comes first."""
        if self._draining is None:
            self._draining = asyncio.ensure_future(self._drain(self.services.settings.drain_timeout_s))
        return self._draining

    async def _drain(self, timeout_s: float) -> None:
        console = asyncio.ensure_future(_finish_or_cancel(self._console_calls, timeout_s))
        stopped = await self.gateway.in_flight.drain(timeout_s)
        cancelled = await console
        if stopped or cancelled:
            log.warning(
                "stopped %d gateway and %d console calls still running after the %g s drain time",
                stopped,
                cancelled,
                timeout_s,
            )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # The server sweeps quota reservations a crash left open, at start-up and then periodically.
                self.services.quota.reconciler.is_periodic = bool(self.services.hosted.providers)
                try:
                    await self.services.start(run_migrations=self.services.settings.migrate_on_start)
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    raise
                _drain_on_stop_signals(self)
                _freeze_what_start_up_made()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.drain()
                await self.services.close()  # writes the usage records and ledger rows still queued
                await send({"type": "lifespan.shutdown.complete"})
                return


def _freeze_what_start_up_made() -> None:
    """Leave the objects made by imports and start-up (≈ 170,000: modules, catalog, tables) out of every later
    collection: they live as long as the process, and each full collection under load would walk them all again."""
    gc.collect()  # start-up's garbage goes now, not in the first full collection under load
    gc.freeze()


def _drain_on_stop_signals(app: ModelyardApp) -> None:
    """Begin the drain when SIGTERM or SIGINT arrives, beside the server's own handling of it.

    granian (2.8) sends the lifespan shutdown only once every open request has ended, so a call held by a hung
    upstream kept the server up for as long as it hung; this handler is what bounds the wait. The server's own
    handler still runs: an asyncio loop learns of the signal through its wakeup fd, whatever Python-level handler
    is installed, and one installed with `signal.signal` (uvicorn's) is called from here.
    """
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(number)
        if not callable(previous):  # the default action or ignored: no server here drains, so neither do we
            continue

        def on_stop(signum: int, frame: FrameType | None, previous: Callable[..., Any] = previous) -> None:
            loop.call_soon_threadsafe(app.drain)
            previous(signum, frame)

        try:
            signal.signal(number, on_stop)
        except ValueError:  # not the main thread: the lifespan shutdown starts the drain
            return


async def _finish_or_cancel(tasks: set[asyncio.Task[Any]], timeout_s: float) -> int:
    running = set(tasks)
    if not running:
        return 0
    _, left = await asyncio.wait(running, timeout=timeout_s)
    for task in left:
        task.cancel()
    if left:
        await asyncio.wait(left, timeout=5.0)
    return len(left)


def create_app(settings: Settings | None = None) -> ModelyardApp:
    """The app `modelyard serve` runs; settings come from the environment unless given."""
    return ModelyardApp(Services(settings or Settings.from_env()))
