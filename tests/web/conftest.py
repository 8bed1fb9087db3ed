"""The web console end to end: the real app under uvicorn on a loopback port, services on SQLite, upstreams faked,
driven by Debian's headless Chromium through Playwright's async API (it shares the event loop with the server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from modelyard import vault
from modelyard.server import ModelyardApp
from modelyard.services.context import Services
from modelyard.services.hosted import HostedConfig, HostedProvider
from tests.conftest import SECRET
from tests.fakes.openai import FakeOpenAI
from tests.services.conftest import make_settings
from tests.support import CHROMIUM, require_chromium

try:
    from playwright.async_api import expect
except ImportError:  # collect anyway: the `browser` fixture skips (or, when services are required, fails) with why
    expect = None

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 900}
ARTIFACTS = Path(__file__).parent / "artifacts"  # screenshots, kept for a person to look at (gitignored)
OWNER_EMAIL = "owner@example.com"
OWNER_PASSWORD = "correct horse battery staple"
TIMEOUT_MS = 15_000


@dataclass
class Site:
    url: str
    services: Services
    workspace_id: str
    account_id: str
    fake: FakeOpenAI


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


async def serve(app: Any) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises what stopped the server
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, f"http://127.0.0.1:{port}"


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


async def sign_in(page: Any, email: str = OWNER_EMAIL, password: str = OWNER_PASSWORD) -> None:
    """Sign in through the form, with the keyboard, and wait for the providers page."""
    await page.goto("/#/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.keyboard.press("Enter")
    await page.locator("article.card").first.wait_for()


async def add_deepseek(site: Site, **overrides: str) -> str:
    """DeepSeek credentials pointed at the fake, stored without a test call; returns the credential id."""
    values = {"api_key": SECRET, "endpoint_url": f"{site.fake.url}/v1", **overrides}
    credential = await site.services.credentials.create(
        workspace_id=site.workspace_id, provider="deepseek", values=values, validate=False
    )
    return credential.id
