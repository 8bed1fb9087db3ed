"""The web console end to end: the real app under uvicorn on a loopback port, services on SQLite, upstreams faked,
driven by Debian's headless Chromium through Playwright's async API (it shares the event loop with the server)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from modelyard import vault
from modelyard.server import ModelyardApp
from modelyard.services.context import Services
from modelyard.services.hosted import HostedConfig, HostedProvider
from tests.fakes.openai import FakeOpenAI
from tests.support import CHROMIUM, SECRET, make_settings, require_chromium, serve
from tests.support.web import OWNER_EMAIL, OWNER_PASSWORD, TIMEOUT_MS, VIEWPORT, Site

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(autouse=True)
def fast_rsa(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vault, "RSA_BITS", 2048)


@pytest.fixture
def hosted(fake_openai: FakeOpenAI) -> HostedConfig:
    """OpenAI hosted by the operator with a trial quota, so a card shows a quota bar."""
    openai = HostedProvider(
        provider="openai",
        credentials={"openai_api_key": SECRET, "openai_api_base": fake_openai.url},
        quota_type="trial",
        unit="times",
        limit=200,
    )
    return HostedConfig(providers={"openai": openai})


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    require_chromium()  # first, so a machine without Chromium skips before a server starts
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def services(tmp_path: Path, runtime, hosted: HostedConfig) -> AsyncIterator[Services]:
    services = Services(make_settings(tmp_path, "sqlite", None), runtime=runtime, hosted=hosted)
    await services.start()
    try:
        yield services
    finally:
        await services.close()


@pytest.fixture
async def site(services: Services, fake_openai: FakeOpenAI) -> AsyncIterator[Site]:
    """The app with one owner (OWNER_EMAIL) in one workspace, "Acme"."""
    account = await services.accounts.create(email=OWNER_EMAIL, password=OWNER_PASSWORD, name="Olivia Owner")
    workspace = await services.workspaces.create("Acme")
    await services.accounts.add_member(workspace_id=workspace.id, account_id=account.id, role="owner")
    server, task, url = await serve(ModelyardApp(services))
    try:
        yield Site(url, services, workspace.id, account.id, fake_openai)
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def page(browser: Any, site: Site) -> AsyncIterator[Any]:
    """A fresh browser context on the site; an uncaught error in the page fails the test."""
    context = await browser.new_context(base_url=site.url, viewport=VIEWPORT, locale="en-US")
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        await context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
