"""Sign-in, the provider cards, and setting up DeepSeek's credentials through the generated form."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import modelyard.catalog
from tests.support import SECRET
from tests.support.web import ARTIFACTS, VIEWPORT, add_deepseek, expect, sign_in
from tests.web.png import read_png


async def open_deepseek(page):
    await page.locator('article.card[data-provider="deepseek"]').get_by_role("link").click()
    await page.locator("form.add-credential").wait_for()
    return page.locator("form.add-credential")


async def test_sign_in_with_a_wrong_password_shows_the_error_and_stays_on_the_form(page, site):
    await page.goto("/")
    await expect(page).to_have_url(f"{site.url}/#/login")
    await page.get_by_label("Email").fill("owner@example.com")
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()

    await expect(page.locator(".form-error")).not_to_be_empty()
    await expect(page).to_have_url(f"{site.url}/#/login")


async def test_providers_page_shows_a_card_per_provider_with_icon_types_status_and_quota(page, site):
    await sign_in(page)

    deepseek = page.locator('article.card[data-provider="deepseek"]')
    await expect(deepseek.locator("h3")).to_have_text("DeepSeek")
    await expect(deepseek.locator('.chip[data-model-type="llm"]')).to_have_text("LLM")
    await expect(deepseek.locator('.pill[data-status="none"]')).to_have_text("Not configured")
    icon = deepseek.locator(".icon img")
    await expect(icon).to_have_attribute("src", "/console/api/providers/deepseek/icon")
    await expect(icon).to_have_js_property("complete", True)
    assert await icon.evaluate("img => img.naturalWidth") > 0, "the icon did not load"
    hosted = page.locator('#configured-providers article.card[data-provider="openai"]')
    await expect(hosted.locator(".quota")).to_contain_text("0 of 200")
    await expect(hosted.locator('[role="progressbar"]')).to_have_attribute("aria-valuemax", "200")
    cards = await page.locator("article.card").count()
    assert cards == len(site.services.catalog)


async def test_providers_page_screenshot_is_a_real_picture_of_the_cards(page, site):
    await add_deepseek(site)
    await sign_in(page)
    await expect(
        page.locator('#configured-providers [data-provider="deepseek"] .pill[data-status="unverified"]')
    ).to_be_visible()
    await page.evaluate("document.fonts.ready")
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "providers.png"

    await page.screenshot(path=str(path), full_page=True)

    picture = read_png(path)
    assert picture.width == VIEWPORT["width"]
    assert picture.height >= VIEWPORT["height"]  # the grid of ~25 cards is taller than one screen
    levels = picture.grey_levels(step=4)
    assert statistics.pvariance(levels) > 100, "the screenshot is (nearly) one flat colour"
    assert len(set(levels)) > 50, "too few shades for a page of cards, text and icons"
    assert sum(level > 240 for level in levels) / len(levels) < 0.97, "the screenshot is almost all white"


async def test_deepseek_credentials_are_verified_and_the_secret_stays_masked(page, site):
    await sign_in(page)
    form = await open_deepseek(page)
    await form.get_by_label("Name").fill("Production")
    await form.get_by_label("API Key").fill(SECRET)
    await form.get_by_label("API endpoint").fill(f"{site.fake.url}/v1")
    site.fake.stall(1.0)  # long enough to see the spinner while the provider is asked

    await form.get_by_role("button", name="Save").click()

    await expect(form.locator(".validating")).to_be_visible()
    row = page.locator('#credential-list [data-name="Production"]')
    await expect(row.locator('.pill[data-status="verified"]')).to_have_text("Verified")
    await expect(form.locator(".validating")).to_be_hidden()
    await expect(row.locator('[data-value="api_key"] code')).to_have_text("************")
    await expect(row).to_contain_text("Active")
    assert site.fake.last.headers["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in await page.content()

    await row.get_by_role("button", name="Edit").click()
    secret = row.locator('form.edit input[name="api_key"]')
    await expect(secret).to_have_attribute("type", "password")
    await expect(secret).to_have_value("************")
    await row.locator("form.edit").get_by_role("button", name="Save changes").click()
    await expect(row.locator("form.edit")).to_have_count(0)
    assert site.fake.last.headers["authorization"] == f"Bearer {SECRET}", "sending the mask back keeps the secret"


async def test_a_rejected_key_shows_the_providers_error_next_to_the_form(page, site):
    await sign_in(page)
    form = await open_deepseek(page)
    await form.get_by_label("API Key").fill("sk-wrong")
    await form.get_by_label("API endpoint").fill(f"{site.fake.url}/v1")
    site.fake.fail(401, "Incorrect API key provided", type="authentication_error", code="invalid_api_key")

    await form.get_by_role("button", name="Save").click()

    await expect(form.locator(".form-error")).to_contain_text("Incorrect API key provided")
    await expect(page.locator("#credential-list")).to_contain_text("No credentials yet.")
    assert await site.services.credentials.list(workspace_id=site.workspace_id, provider="deepseek") == []


async def test_an_error_naming_a_field_is_shown_next_to_that_field(page, site):
    await sign_in(page)
    form = await open_deepseek(page)

    await form.get_by_role("button", name="Save").click()  # API Key is required: caught before a round trip
    api_key = form.locator('[data-field="api_key"]')
    await expect(api_key.locator(".field-error")).to_have_text("API Key is required")
    await expect(api_key.locator("input")).to_have_attribute("aria-invalid", "true")

    await form.get_by_label("API Key").fill(SECRET)
    await form.get_by_label("API endpoint").fill(f"{site.fake.url}/v1")
    await form.get_by_label("Name").fill("n" * 130)  # the server refuses it, naming the field
    await form.get_by_role("button", name="Save").click()
    await expect(form.locator('[data-field="name"] .field-error')).not_to_be_empty()
    await expect(api_key.locator(".field-error")).to_be_empty()


async def test_several_credentials_can_be_stored_and_the_active_one_switched(page, site):
    first = await add_deepseek(site, endpoint_url=f"{site.fake.url}/v1")
    await sign_in(page)
    form = await open_deepseek(page)
    await form.get_by_label("Name").fill("Backup")
    await form.get_by_label("API Key").fill("sk-backup-key")
    await form.get_by_label("API endpoint").fill(f"{site.fake.url}/v1")
    await form.get_by_role("switch", name="Check with the provider before saving").uncheck()
    await form.get_by_role("button", name="Save").click()

    backup = page.locator('#credential-list [data-name="Backup"]')
    await expect(backup.locator('.pill[data-status="unverified"]')).to_be_visible()
    await backup.get_by_role("button", name="Use this one").click()
    await expect(backup).to_have_class("row active")

    listed = await site.services.credentials.list(workspace_id=site.workspace_id, provider="deepseek")
    assert {c.name: c.is_active for c in listed} == {"DeepSeek 1": False, "Backup": True}
    assert first in {c.id for c in listed}


async def test_the_workspace_switcher_shows_the_other_workspaces_providers(page, site):
    await add_deepseek(site)
    other = await site.services.workspaces.create("Beta")
    await site.services.accounts.add_member(workspace_id=other.id, account_id=site.account_id, role="member")
    await sign_in(page)
    await expect(page.locator('#configured-providers [data-provider="deepseek"]')).to_be_visible()

    await page.get_by_label("Workspace", exact=True).select_option(label="Beta")

    await expect(page.locator('#other-providers [data-provider="deepseek"]')).to_be_visible()
    await expect(page.locator('#configured-providers [data-provider="deepseek"]')).to_have_count(0)


async def test_a_credential_that_fails_its_check_shows_failing_with_the_providers_error(page, site):
    await add_deepseek(site)
    await sign_in(page)
    await page.goto("/#/providers/deepseek")
    row = page.locator('#credential-list [data-name="DeepSeek 1"]')
    site.fake.fail(401, "Incorrect API key provided", type="authentication_error", code="invalid_api_key")

    await row.get_by_role("button", name="Validate").click()

    await expect(row.locator('.pill[data-status="failing"]')).to_have_text("Failing")
    await expect(row.get_by_role("alert")).to_contain_text("Incorrect API key provided")
    await expect(page.locator("#provider-status .pill[data-status='failing']")).to_be_visible()


async def test_signing_out_ends_the_session_and_pages_lead_back_to_sign_in(page, site):
    await sign_in(page)

    await page.get_by_role("button", name="Sign out").click()

    await expect(page).to_have_url(f"{site.url}/#/login")
    await page.goto("/#/models")
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    await expect(page).to_have_url(f"{site.url}/#/login")


async def test_provider_status_sums_up_its_custom_models_instead_of_saying_not_checked(page, site):
    await site.services.models.add_custom(
        workspace_id=site.workspace_id,
        provider="openai_api_compatible",
        model="local-llama",
        model_type="llm",
        values={"endpoint_url": f"{site.fake.url}/v1"},
    )  # checked with one call: verified
    await sign_in(page)

    card = page.locator('#configured-providers article.card[data-provider="openai_api_compatible"]')
    await expect(card.locator('.pill[data-status="verified"]')).to_have_text("Verified")
    await expect(card.locator('.pill[data-status="unverified"]')).to_have_count(0)
    await card.get_by_role("link").click()
    status = page.locator("#provider-status")
    await expect(status.locator('.pill[data-status="verified"]')).to_be_visible()
    await expect(status).not_to_contain_text("Not checked")

    site.fake.fail(401, "Incorrect API key provided", type="authentication_error", code="invalid_api_key")
    await page.locator('#custom-model-list [data-model="local-llama"]').get_by_role("button", name="Validate").click()
    await expect(status.locator('.pill[data-status="failing"]')).to_be_visible()  # follows the change, no reload


async def test_provider_cards_show_vendor_marks_with_the_monogram_as_fallback(page, site):
    await sign_in(page)
    anthropic = page.locator('article.card[data-provider="anthropic"] .icon img')
    await expect(anthropic).to_have_js_property("complete", True)
    assert await anthropic.evaluate("img => img.naturalWidth") > 0

    mark = await page.request.get("/console/api/providers/anthropic/icon")
    monogram = await page.request.get("/console/api/providers/anthropic/icon?variant=monogram")
    assert b"<path" in await mark.body() and b"<text" not in await mark.body()  # the vendor's mark, not letters
    assert b"<text" in await monogram.body()
    openai = await page.request.get("/console/api/providers/openai/icon")
    assert b"<text" in await openai.body()  # no mark may be shipped for it: the monogram stays

    await page.route("**/providers/deepseek/icon", lambda route: route.abort())  # the mark cannot be loaded
    await page.reload()
    deepseek = page.locator('article.card[data-provider="deepseek"] .icon img')
    await expect(deepseek).to_have_attribute("src", "/console/api/providers/deepseek/icon?variant=monogram")
    await expect(deepseek).to_have_js_property("complete", True)
    assert await deepseek.evaluate("img => img.naturalWidth") > 0


def test_every_vendor_mark_is_recorded_with_its_source_and_keeps_its_monogram():
    icons = Path(modelyard.catalog.__file__).parent / "icons"
    recorded = set(re.findall(r"^\| `(\w+)` \|", (icons / "SOURCES.md").read_text(), flags=re.M))
    marks = {path.stem for path in icons.glob("*.svg") if b"<text" not in path.read_bytes()}
    assert marks == recorded
    assert all((icons / "monograms" / f"{name}.svg").is_file() for name in marks)
