"""Outside the API: Prometheus metrics, health, the docs page and the web console's entry point."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import text
from starlette.responses import Response

from modelyard.console.auth import State
from modelyard.console.metrics_auth import metrics_reader
from modelyard.console.views import HealthOut
from modelyard.store.cache import RedisCache

router = APIRouter()
STATIC_DIR = Path(__file__).parent / "static"
DOCS_ASSETS = "/docs/assets"
FAVICON = "/static/favicon.svg"
READY_TIMEOUT_S = 2.0
_NO_CONSOLE = """<!doctype html><meta charset="utf-8"><title>modelyard</title>
<p>The web console is not installed in this build. The API is described at <a href="/docs">/docs</a>.</p>"""


@router.get(
    "/metrics",
    tags=["system"],
    response_class=Response,
    dependencies=[Depends(metrics_reader)],
    summary="Prometheus metrics (with MODELYARD_METRICS_TOKEN set: send it as a bearer token)",
)
async def metrics(state: State) -> Response:
    registry = state.metrics.registry
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # `serve --workers N`: add up what every worker wrote
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/health/live", tags=["system"], summary="200 while the process runs")
async def live() -> HealthOut:
    return HealthOut(status="ok")


@router.get(
    "/health/ready",
    tags=["system"],
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "The database (or Redis) does not answer"}},
    summary="200 when the database answers (and Redis, when configured); 503 otherwise",
)
async def ready(state: State) -> Response:
    services = state.services
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            async with services.db() as session:
                await session.execute(text("SELECT 1"))
            if isinstance(services.cache, RedisCache):
                await services.cache.client.ping()
    except Exception as exc:  # any failure means: do not send traffic here
        detail = f"{type(exc).__name__}: not reachable" if not isinstance(exc, TimeoutError) else "timed out"
        return JSONResponse(HealthOut(status="unavailable", detail=detail).model_dump(), status_code=503)
    return JSONResponse(HealthOut(status="ok").model_dump())


@router.get("/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    # Swagger UI from the swagger-ui-bundle-v2 package, served by us: no CDN, so it works offline.
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="modelyard API",
        swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        swagger_favicon_url=FAVICON,
    )


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> FileResponse:
    # The place browsers and tools ask first; the same SVG as the console's and /docs' <link rel="icon">.
    return FileResponse(
        STATIC_DIR / "favicon.svg", media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
    )


@router.get("/", include_in_schema=False)
async def index() -> Response:
    page = STATIC_DIR / "index.html"
    if page.is_file():
        return FileResponse(page, media_type="text/html", headers={"Cache-Control": "no-cache"})
    return HTMLResponse(_NO_CONSOLE)
