"""Every page of the console renders, without an error in the page, on a workspace with some configuration."""

from __future__ import annotations

from tests.support.web import ARTIFACTS, add_deepseek, expect, sign_in

PAGES = [
    ("providers/deepseek", "DeepSeek"),
    ("providers/openai_api_compatible", "OpenAI-API-compatible"),
    ("models", "Models"),
    ("defaults", "Default models"),
    ("aliases", "Model aliases"),
    ("keys", "API keys"),
    ("members", "Members"),
    ("usage", "Usage & quota"),
    ("playground", "Playground"),
]


async def test_every_page_renders_its_heading_without_errors_or_sideways_scrolling(page, site):
    await add_deepseek(site)
    await sign_in(page)
    ARTIFACTS.mkdir(exist_ok=True)

    for route, heading in PAGES:
        await page.goto(f"/#/{route}")

        await expect(page.locator("main h1")).to_have_text(heading)
        await expect(page.locator("main .loading")).to_have_count(0)
        await expect(page.locator("main .form-error:not(:empty)")).to_have_count(0)
        await page.screenshot(path=str(ARTIFACTS / f"page-{route.replace('/', '-')}.png"), full_page=True)
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"#/{route} is {overflow}px wider than the window"


async def test_providers_page_fits_a_phone_screen(page, site):
    await page.set_viewport_size({"width": 390, "height": 844})
    await sign_in(page)

    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "providers-phone.png"))

    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the window"
