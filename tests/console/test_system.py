"""Metrics, health, the OpenAPI document and its docs page, and the web console's entry point."""

from __future__ import annotations

import re

import pytest

from modelyard.gateway.app import ROUTES
from tests.support.console import API, Console, Team


async def test_metrics_are_prometheus_text_and_count_gateway_calls(console: Console, team: Team, deepseek) -> None:
    ws = f"{API}/workspaces/{team.workspace_id}"
    await team.owner.post(f"{ws}/providers/deepseek/credentials", json={"values": deepseek, "validate": False})
    key = (await team.owner.post(f"{ws}/api-keys", json={"name": "m"})).json()["key"]
    await team.owner.get("/v1/models", headers={"Authorization": f"Bearer {key}"})

    response = await console.client().get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'modelyard_requests_total{route="/v1/models",status="200"} 1.0' in response.text
    assert "modelyard_request_latency_seconds_bucket" in response.text


async def test_health_live_and_ready(console: Console) -> None:
    client = console.client()

    live = await client.get("/health/live")
    ready = await client.get("/health/ready")

    assert (live.status_code, live.json()["status"]) == (200, "ok")
    assert (ready.status_code, ready.json()["status"]) == (200, "ok")


async def test_ready_is_503_when_the_database_does_not_answer(console: Console, monkeypatch) -> None:
    def unreachable():
        raise ConnectionRefusedError("database down")

    monkeypatch.setattr(console.services, "db", unreachable)

    response = await console.client().get("/health/ready")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "detail": "ConnectionRefusedError: not reachable"}


async def test_openapi_describes_the_console_and_the_gateway(console: Console) -> None:
    document = (await console.client().get("/openapi.json")).json()

    paths = document["paths"]
    assert all(method.lower() in paths.get(path, {}) for method, path in ROUTES)  # every gateway route, served
    assert paths["/v1/chat/completions"]["post"]["security"] == [{"apiKey": []}]
    assert f"{API}/workspaces/{{ws}}/providers/{{provider}}/credentials" in paths
    assert {"session", "accessToken", "apiKey"} <= set(document["components"]["securitySchemes"])
    credential_body = document["components"]["schemas"]["CredentialBody"]
    assert credential_body["additionalProperties"] is False
    assert "validate" in credential_body["properties"]
    assert not any("422" in op["responses"] for ops in paths.values() for op in ops.values())


async def test_docs_page_loads_swagger_ui_from_this_server(console: Console) -> None:
    client = console.client()

    page = await client.get("/docs")

    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets
    assert all(url.startswith("/") for url in assets), assets  # nothing from a CDN
    for url in assets:
        assert (await client.get(url)).status_code == 200, url


async def test_the_web_console_is_served_at_the_root(console: Console) -> None:
    response = await console.client().get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("path", ["/static/nothing.js", "/console/api/nothing"])
async def test_unknown_paths_are_404(console: Console, path: str) -> None:
    assert (await console.client().get(path)).status_code == 404
