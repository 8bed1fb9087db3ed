"""Screenshots of the console's main pages at 1280 px and 390 px, in English and Chinese, into /tmp/console-shots/.
Run explicitly: .venv/bin/pytest tests/web/console_shots.py -p no:cacheprovider -q (not part of the suite)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.web import add_deepseek, expect, sign_in

OUT = Path(os.environ.get("SHOTS_DIR", "/tmp/console-shots"))
ROUTES = [
    ("providers", "providers"),
    ("providers/deepseek", "configured-provider"),
    ("providers/anthropic", "unconfigured-provider"),
    ("providers/openai_api_compatible", "custom-provider"),
    ("models", "models"),
    ("defaults", "defaults"),
    ("playground", "playground"),
    ("usage", "usage"),
    ("providers/openai", "hosted-provider"),
    ("nowhere", "not-found"),
]


async def test_take_screenshots(page, site):
    await add_deepseek(site, endpoint_url=f"{site.fake.url}/v1")
    await site.services.models.add_custom(
        workspace_id=site.workspace_id,
        provider="openai_api_compatible",
        model="local-embed",
        model_type="text-embedding",
        values={"endpoint_url": f"{site.fake.url}/v1"},
        validate=False,
    )
    await sign_in(page)
    OUT.mkdir(exist_ok=True)  # noqa: ASYNC240
    for lang in ("en_US", "zh_Hans"):
        await page.evaluate(f"localStorage.setItem('modelyard.lang', '{lang}')")
        for width, height in ((1280, 900), (390, 844)):
            await page.set_viewport_size({"width": width, "height": height})
            for route, name in ROUTES:
                await page.goto(f"/#/{route}")
                await page.reload()
                await expect(page.locator("main .loading")).to_have_count(0)
                await page.wait_for_timeout(300)
                await page.screenshot(path=str(OUT / f"{name}-{width}-{lang}.png"), full_page=True)


async def test_take_screenshots_of_load_balancing_and_a_dialog(page, site):
    await add_deepseek(site, endpoint_url=f"{site.fake.url}/v1")
    await sign_in(page)
    await page.goto("/#/providers/deepseek")
    row = page.locator('tr[data-model="deepseek/deepseek-flash"]')
    await row.get_by_role("button", name="Load balancing").click()
    panel = page.locator(".load-balancing")
    await panel.get_by_role("switch", name="Spread calls over these entries").check()
    await expect(row.get_by_role("button", name="Load balancing: on")).to_be_visible()
    await panel.screenshot(path=str(OUT / "load-balancing-1280-en_US.png"))
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.locator('#credential-list [data-name="DeepSeek 1"]').get_by_role("button", name="Delete").click()
    await page.screenshot(path=str(OUT / "dialog-390-en_US.png"))
