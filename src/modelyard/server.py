"""The service: one ASGI app serving the gateway (/v1), the console API and web console, metrics and health."""

from __future__ import annotations

from typing import Any

from modelyard.gateway.app import Gateway
from modelyard.gateway.exchange import Receive, Scope, Send
from modelyard.gateway.metrics import Metrics
from modelyard.services.context import Services
from modelyard.settings import Settings

ASGIApp = Any


class ModelyardApp:
    """Routes `/v1/...` straight to the gateway (the hot path skips the console's framework) and the rest to
    the console; runs the services' start and close in the ASGI lifespan."""

    def __init__(self, services: Services, *, console: ASGIApp | None = None) -> None:
        self.services = services
        self.metrics = Metrics()
        self.gateway = Gateway(services, self.metrics)
        if console is None:
            from modelyard.console.app import create_console

            console = create_console(services, self.metrics)
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" and scope["path"].startswith("/v1/"):
            await self.gateway(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        else:
            await self.console(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.services.start(run_migrations=self.services.settings.migrate_on_start)
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    raise
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.services.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app(settings: Settings | None = None) -> ModelyardApp:
    """The app `modelyard serve` runs; settings come from the environment unless given."""
    return ModelyardApp(Services(settings or Settings.from_env()))
