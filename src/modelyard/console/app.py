"""The console app: the REST API under /console/api, the web console, docs, metrics and health."""

from __future__ import annotations

from typing import Any

import sqlalchemy.exc
from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from modelyard._version import __version__
from modelyard.console import (
    routes_aliases,
    routes_auth,
    routes_models,
    routes_playground,
    routes_playground_tasks,
    routes_pools,
    routes_providers,
    routes_system,
    routes_usage,
    routes_workspaces,
)
from modelyard.console.errors import (
    ApiError,
    on_api_error,
    on_http_error,
    on_modelyard_error,
    on_store_unavailable,
    on_validation_error,
)
from modelyard.console.middleware import MAX_BODY_BYTES, BodyLimit, ErrorBoundary
from modelyard.console.openapi import build_document
from modelyard.console.ratelimit import SignInLimiter
from modelyard.console.sessions import SignIns
from modelyard.console.setup import setup_token
from modelyard.console.state import ConsoleState
from modelyard.errors import ModelyardError
from modelyard.gateway.metrics import Metrics
from modelyard.services.context import Services

__all__ = ["create_console", "setup_token"]

API_PREFIX = "/console/api"
_DESCRIPTION = """\
The console REST API (`/console/api`) configures workspaces: providers, credentials, models, defaults,
load balancing, model aliases, API keys and members. Sign in with `POST /console/api/auth/login` (session cookie;
writes then need the `X-CSRF-Token` header) or use a personal access token from `POST /console/api/auth/tokens` as
`Authorization: Bearer <token>`.

The gateway (`/v1`) is OpenAI-compatible; authenticate with a workspace API key.
"""


def create_console(services: Services, metrics: Metrics, *, max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """The ASGI app for everything but /v1; `services` are started and closed by the caller's lifespan."""
    app = FastAPI(
        title="modelyard",
        version=__version__,
        description=_DESCRIPTION,
        docs_url=None,  # served by routes_system from the package, not from a CDN
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.console = ConsoleState(services, metrics, SignIns(services), SignInLimiter(services.cache))
    api = APIRouter(prefix=API_PREFIX)
    for module in (
        routes_auth,
        routes_workspaces,
        routes_providers,
        routes_models,
        routes_pools,
        routes_aliases,
        routes_usage,
        routes_playground,
        routes_playground_tasks,
    ):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(routes_system.router)
    app.mount("/static", StaticFiles(directory=routes_system.STATIC_DIR, check_dir=False), name="static")
    _mount_docs_assets(app)
    app.add_exception_handler(ModelyardError, on_modelyard_error)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    for unavailable in (sqlalchemy.exc.TimeoutError, sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError):
        app.add_exception_handler(unavailable, on_store_unavailable)
    app.add_middleware(BodyLimit, limit_bytes=max_body_bytes)
    app.add_middleware(ErrorBoundary)  # added last: the outermost, so it also catches what BodyLimit raises

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _mount_docs_assets(app: FastAPI) -> None:
    try:
        import swagger_ui_bundle  # type: ignore[import-untyped]
    except ImportError:  # an install without it still serves the API; /docs then loads no script
        return
    app.mount(
        routes_system.DOCS_ASSETS,
        StaticFiles(directory=str(swagger_ui_bundle.swagger_ui_path)),
        name="docs-assets",
    )
