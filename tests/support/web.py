"""Driving the web console in Chromium: the page's settings, signing in, and data set-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelyard.services.context import Services
from tests.fakes.openai import FakeOpenAI
from tests.support import SECRET

try:
    from playwright.async_api import expect
except ImportError:  # collect anyway: the `browser` fixture skips (or, when services are required, fails) with why
    expect = None

VIEWPORT = {"width": 1280, "height": 900}
ARTIFACTS = Path(__file__).resolve().parents[1] / "web" / "artifacts"  # screenshots for a person (gitignored)
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
