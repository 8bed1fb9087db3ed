"""How the console sits on a screen: a provider page before and after set-up, tables at 1280 px and 390 px, and
the small things (dialogs, unknown addresses, a member's switches, money, words, favicons)."""

from __future__ import annotations

from tests.support.web import add_deepseek, expect, sign_in

PHONE = {"width": 390, "height": 844}


async def sideways(page) -> int:
    return await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


async def test_an_unconfigured_provider_page_folds_its_models_and_says_why_once(page, site):
    await sign_in(page)
    await page.goto("/#/providers/anthropic")
    notice = page.locator('[data-notice="not-configured"]')
    await expect(notice).to_contain_text("until credentials are added")
    await expect(page.locator("details.fold")).not_to_have_attribute("open", "")
    height = await page.evaluate("document.documentElement.scrollHeight")
    assert height < 2000, f"the page is {height}px tall before any key is added"

    await page.locator("details.fold > summary").click()
    await expect(page.locator('tbody[data-model-type="llm"] tr.group')).to_be_visible()
    assert await page.get_by_text("no credentials are configured").count() == 0  # said once, above, not per row
    await expect(
        page.locator('tr[data-model^="anthropic/"] .pill[data-reason="credentials_not_configured"]').first
    ).to_have_text("No credentials")


async def test_a_configured_provider_lists_its_models_grouped_by_type_and_nothing_is_cut_off(page, site):
    await site.services.credentials.create(
        workspace_id=site.workspace_id,
        provider="openai",
        values={"openai_api_key": "sk-openai-0011223344556677", "openai_api_base": site.fake.url},
        validate=False,
    )
    await sign_in(page)
    await page.goto("/#/providers/openai")
    groups = page.locator("tbody[data-model-type] tr.group")
    await expect(groups.first).to_be_visible()
    assert await groups.count() >= 5  # llm, embeddings, speech to text, text to speech, moderation
    assert "null" not in await page.locator("main").inner_text()
    price = page.locator('tr[data-model="openai/tts-1"] td.price')
    await expect(price).to_contain_text("15.00 USD")  # every amount with the same precision
    await expect(price).to_contain_text("per 1M characters")

    for route in ("providers/openai", "models"):  # the page of all providers has the provider's name too
        await page.goto(f"/#/{route}")
        button = page.locator('tr[data-model="openai/gpt-4o"]').get_by_role("button", name="Load balancing")
        box, wrap = await button.bounding_box(), await page.locator(".models-list .table-wrap").bounding_box()
        assert box["x"] + box["width"] <= wrap["x"] + wrap["width"], f"#/{route}: the last column's button is cut off"
        assert await sideways(page) <= 0


async def test_at_390_px_no_page_scrolls_sideways_and_tables_become_cards(page, site):
    await add_deepseek(site)
    await page.set_viewport_size(PHONE)
    await sign_in(page)
    for route in ("providers", "providers/deepseek", "providers/openai_api_compatible", "models", "playground"):
        await page.goto(f"/#/{route}")
        await expect(page.locator("main .loading")).to_have_count(0)
        assert await sideways(page) <= 0, f"#/{route} scrolls sideways at 390 px"
    await page.goto("/#/providers/deepseek")
    cell = page.locator('tr[data-model="deepseek/deepseek-flash"] td.price')
    await expect(cell).to_have_attribute("data-label", "Price (in / out)")
    assert await page.locator("table.reflow thead").first.evaluate("e => getComputedStyle(e).display") == "none"


async def test_a_dialogs_buttons_sit_side_by_side(page, site):
    await add_deepseek(site)
    await sign_in(page)
    await page.goto("/#/providers/deepseek")
    await page.locator('#credential-list [data-name="DeepSeek 1"]').get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog")
    delete, cancel = dialog.get_by_role("button", name="Delete"), dialog.get_by_role("button", name="Cancel")
    first, second = await delete.bounding_box(), await cancel.bounding_box()
    assert abs(first["y"] - second["y"]) < 2 and first["x"] != second["x"], (first, second)
    await cancel.click()


async def test_an_unknown_address_shows_a_not_found_page(page, site):
    await sign_in(page)
    await page.goto("/#/no-such-page")
    await expect(page.locator("main h1")).to_have_text("Page not found")
    await expect(page.locator("main")).to_contain_text("#/no-such-page")
    await expect(page).to_have_url(f"{site.url}/#/no-such-page")  # not silently sent elsewhere
    await page.locator("main").get_by_role("link", name="Go to Model Providers").click()
    await expect(page.locator("main h1")).to_have_text("Model Providers")


async def test_a_member_sees_the_switches_they_cannot_use_as_disabled(page, site):
    await add_deepseek(site)
    account = await site.services.accounts.create(email="member@example.com", password="a member's long password")
    await site.services.accounts.add_member(workspace_id=site.workspace_id, account_id=account.id, role="member")
    await sign_in(page, "member@example.com", "a member's long password")
    await page.goto("/#/models?provider=deepseek")
    switch = page.locator('tr[data-model="deepseek/deepseek-flash"]').get_by_role("switch")
    await expect(switch).to_be_disabled()
    label = page.locator('tr[data-model="deepseek/deepseek-flash"] .switch')
    assert float(await label.evaluate("e => getComputedStyle(e).opacity")) < 0.8, "a disabled switch looks usable"
    assert await label.evaluate("e => getComputedStyle(e).cursor") == "not-allowed"


async def test_words_in_chinese_and_no_literal_backticks(page, site):
    await sign_in(page)
    for route in ("defaults", "providers", "models", "playground"):
        await page.goto(f"/#/{route}")
        await expect(page.locator("main h1")).to_be_visible()
        assert "`" not in await page.locator("main").inner_text(), f"#/{route} shows a literal backtick"
    await page.get_by_role("button", name="Switch language").click()
    await expect(page.locator('.sidenav a[data-nav="playground"]')).to_have_text("调试")
    await page.goto("/#/defaults")
    assert "`" not in await page.locator("main").inner_text()


async def test_the_console_and_docs_have_a_favicon(page, site):
    for address in ("/", "/docs"):
        await page.goto(address)
        href = await page.locator('link[rel~="icon"]').first.get_attribute("href")
        icon = await page.request.get(href)
        assert icon.ok and icon.headers["content-type"].startswith("image/"), (address, href)
    conventional = await page.request.get("/favicon.ico")
    assert conventional.ok and conventional.headers["content-type"].startswith("image/")
