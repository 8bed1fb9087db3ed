"""Outside the API: Prometheus metrics, health, the docs page and the web console's entry point."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from modelyard.console.auth import State
from modelyard.console.metrics_auth import metrics_reader
from modelyard.console.views import HealthOut
from modelyard.probes import metrics_text, unready_detail

router = APIRouter()
STATIC_DIR = Path(__file__).parent / "static"
DOCS_ASSETS = "/docs/assets"
FAVICON = "/static/favicon.svg"
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
    # A request that passes the token check is answered by probes.py before it gets here; this route is what
    # the OpenAPI document shows, and what answers a console app used on its own.
    return Response(metrics_text(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


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
    detail = await unready_detail(state.services)
    if detail is not None:
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
