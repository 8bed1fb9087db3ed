"""Model aliases in the web console: made with ordered, weighted models, listed with each model's live state (a
cool-down shows), edited in a dialog, a bad name flagged at its field, deleted; and the page in Chinese."""

from __future__ import annotations

from tests.support.web import ARTIFACTS, add_deepseek, expect, sign_in


async def test_an_alias_is_made_listed_edited_and_deleted(page, site):
    await add_deepseek(site)
    await sign_in(page)
    await page.goto("/#/aliases")
    await expect(page.locator("main h1")).to_have_text("Model aliases")
    await expect(page.locator("#alias-list")).to_contain_text("No aliases yet.")

    form = page.locator("form.create-alias")
    await form.get_by_label("Alias name").fill("smart")
    rows = form.locator(".target-row")
    await rows.nth(0).get_by_label("Model").select_option("deepseek/deepseek-flash")
    await rows.nth(0).get_by_label("Weight").fill("3")
    await form.get_by_role("button", name="Add a model").click()
    await rows.nth(1).get_by_label("Model").select_option("openai/gpt-5.4")
    await rows.nth(1).get_by_label("Weight").fill("0")
    await form.get_by_label("Attempts per call").fill("4")
    await form.get_by_role("button", name="Make alias").click()

    row = page.locator('#alias-list tr[data-alias="smart"]')
    await expect(row).to_contain_text("deepseek/deepseek-flash")
    await expect(row).to_contain_text("weight 3")
    await expect(row).to_contain_text("fallback only")
    await expect(row).to_contain_text("4 attempts in 30 s")
    await expect(row.locator('[data-target="openai/gpt-5.4"] [data-status="available"]')).to_be_visible()  # hosted
    [alias] = (await site.services.snapshots.get(site.workspace_id)).aliases.values()
    assert [(t.name, t.weight) for t in alias.targets] == [("deepseek/deepseek-flash", 3), ("openai/gpt-5.4", 0)]

    await site.services.cooldowns.cool(site.workspace_id, "deepseek/deepseek-flash", 90, "UpstreamRateLimitError: 429")
    await page.goto("/#/models")
    await page.goto("/#/aliases")
    await expect(row.locator('[data-target="deepseek/deepseek-flash"] [data-status="cooling"]')).to_contain_text(
        "Cooling down"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "aliases.png"), full_page=True)

    await row.get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog")
    await dialog.locator(".target-row").nth(1).get_by_role("button", name="Move up").click()
    await dialog.get_by_label("Seconds per call").fill("12")
    await dialog.get_by_role("button", name="Save changes").click()
    await expect(row).to_contain_text("4 attempts in 12 s")
    await expect(row.locator("li").first).to_contain_text("openai/gpt-5.4")

    await row.get_by_role("button", name="Delete").click()
    await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    await expect(page.locator("#alias-list")).to_contain_text("No aliases yet.")
    assert not (await site.services.snapshots.get(site.workspace_id)).aliases


async def test_a_name_that_shadows_a_model_is_flagged_at_its_field(page, site):
    await add_deepseek(site)
    await sign_in(page)
    await page.goto("/#/aliases")
    form = page.locator("form.create-alias")
    await form.get_by_label("Alias name").fill("deepseek-flash")
    await form.locator(".target-row").first.get_by_label("Model").select_option("deepseek/deepseek-flash")

    await form.get_by_role("button", name="Make alias").click()

    await expect(form.locator('[data-field="name"] .field-error')).to_contain_text("must not shadow")


async def test_the_page_reads_in_chinese(page, site):
    await add_deepseek(site)
    await site.services.aliases.create(
        workspace_id=site.workspace_id, name="smart", targets=_targets("deepseek/deepseek-flash")
    )
    await sign_in(page)
    await page.goto("/#/aliases")
    await page.locator('[data-action="language"]').click()

    await expect(page.locator("main h1")).to_have_text("模型别名")
    await expect(page.locator('.sidenav a[data-nav="aliases"]')).to_have_text("模型别名")
    await expect(page.locator('#alias-list tr[data-alias="smart"]')).to_contain_text("3 次尝试")


def _targets(*names: str):
    from modelyard.services.aliases import parse_targets

    return parse_targets(list(names))
