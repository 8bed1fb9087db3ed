"""First run: with no account, the console asks for setup; the printed link creates the owner and signs them in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from modelyard.console.setup import setup_token
from modelyard.server import ModelyardApp
from tests.support import serve
from tests.support.web import TIMEOUT_MS, VIEWPORT, expect


@pytest.fixture
async def fresh(browser: Any, services) -> AsyncIterator[tuple[Any, str, str]]:
    """A page on a server that has no account yet, and the setup token `modelyard serve` would print."""
    token = await setup_token(services)
    assert token is not None
    server, task, url = await serve(ModelyardApp(services))
    context = await browser.new_context(base_url=url, viewport=VIEWPORT)
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        yield page, url, token
    finally:
        await context.close()
        server.should_exit = True
        await task


async def test_the_setup_link_creates_the_owner_and_the_default_workspace(fresh, services):
    page, _, token = fresh
    await page.goto(f"/#/setup?token={token}")
    await expect(page.get_by_label("Setup token")).to_have_value(token)
    await page.get_by_label("Your name").fill("First Owner")
    await page.get_by_label("Email").fill("first@example.com")
    await page.get_by_label("Password").fill("a long enough password")

    await page.get_by_role("button", name="Create owner account").click()

    await expect(page.locator("article.card").first).to_be_visible()
    await expect(page.get_by_label("Workspace", exact=True)).to_contain_text("Default")
    await expect(page.locator(".account")).to_have_text("first@example.com")
    assert await services.accounts.count() == 1


async def test_any_page_leads_to_setup_while_no_account_exists_and_a_wrong_token_is_refused(fresh, services):
    page, url, _ = fresh
    await page.goto("/#/providers")
    await expect(page).to_have_url(f"{url}/#/setup")

    await page.get_by_label("Setup token").fill("not-the-token")
    await page.get_by_label("Email").fill("first@example.com")
    await page.get_by_label("Password").fill("a long enough password")
    await page.get_by_role("button", name="Create owner account").click()

    await expect(page.get_by_role("alert").filter(has_text="token")).to_be_visible()
    assert await services.accounts.count() == 0
