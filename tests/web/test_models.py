"""The model list (enable switches, feature badges), default models, load balancing and custom models."""

from __future__ import annotations

from contextlib import asynccontextmanager

from tests.support.web import add_deepseek, expect, sign_in


@asynccontextmanager
async def patched(page, path):
    """Wait for the PATCH the block's action sends, and check it succeeded."""
    async with page.expect_response(lambda r: r.request.method == "PATCH" and path in r.url) as response:
        yield
    assert (await response.value).ok


async def model(site, provider, name):
    models = await site.services.models.list(workspace_id=site.workspace_id, provider=provider)
    return next(m for m in models if m.model == name)


async def test_a_model_switched_off_in_the_list_is_disabled_for_the_workspace(page, site):
    await add_deepseek(site)
    await sign_in(page)
    await page.goto("/#/models?provider=deepseek")
    row = page.locator('tr[data-model="deepseek/deepseek-v4-pro"]')
    await expect(row.locator('.badge[data-feature="reasoning"]')).to_have_text("reasoning")
    await expect(row.locator('.badge[data-feature="tool-call"]')).to_be_visible()
    switch = row.get_by_role("switch", name="Enable deepseek-v4-pro")
    await expect(switch).to_be_checked()

    await switch.uncheck()

    await expect(page.locator(".toast")).to_contain_text("deepseek-v4-pro disabled")
    assert not (await model(site, "deepseek", "deepseek-v4-pro")).is_enabled
    await page.reload()
    await expect(page.locator('tr[data-model="deepseek/deepseek-v4-pro"]').get_by_role("switch")).not_to_be_checked()


async def test_a_default_model_is_chosen_per_type_and_flagged_when_it_becomes_unavailable(page, site):
    await add_deepseek(site)
    await sign_in(page)
    await page.goto("/#/defaults")
    llm = page.locator('.defaults article[data-model-type="llm"]')
    await expect(llm.locator(".current")).to_contain_text("Automatic")
    await expect(page.locator(".defaults article")).to_have_count(6)

    await llm.get_by_label("Default model").select_option(label="deepseek-flash")

    await expect(llm.locator('.current[data-source="chosen"]')).to_contain_text("deepseek/deepseek-flash")
    chosen = await site.services.defaults.get(workspace_id=site.workspace_id, model_type="llm")
    assert (chosen.source, chosen.provider, chosen.model) == ("chosen", "deepseek", "deepseek-flash")

    await site.services.models.set_enabled(
        workspace_id=site.workspace_id, provider="deepseek", model="deepseek-flash", model_type="llm", enabled=False
    )
    await page.reload()
    await expect(llm.locator('.pill[data-status="unavailable"]')).to_be_visible()
    await expect(llm.locator(".warning-text")).not_to_be_empty()

    await llm.get_by_label("Default model").select_option(label="Automatic")
    await expect(llm.locator('.current[data-source="automatic"]')).to_be_visible()
    cleared = await site.services.defaults.get(workspace_id=site.workspace_id, model_type="llm")
    assert cleared.source == "automatic"


async def test_load_balancing_entries_are_added_weighted_and_switched_with_their_live_state(page, site):
    credential = await add_deepseek(site)
    await sign_in(page)
    await page.goto("/#/models?provider=deepseek")
    await page.locator('tr[data-model="deepseek/deepseek-flash"]').get_by_role("button", name="Load balancing").click()
    panel = page.locator('.load-balancing[data-model="deepseek/deepseek-flash"]')
    form = panel.locator("form.add-entry")

    await form.get_by_label("Name").fill("primary")
    await form.get_by_label("Weight").fill("3")
    await form.get_by_role("button", name="Add entry").click()

    entry = panel.locator('tr[data-name="primary"]')
    await expect(entry.locator('.pill[data-status="available"]')).to_be_visible()
    await expect(entry.get_by_label("Weight of primary")).to_have_value("3")
    weight = entry.get_by_label("Weight of primary")
    async with patched(page, "/load-balancing/"):
        await weight.fill("5")
        await weight.press("Tab")
    async with patched(page, "/models"):
        await panel.get_by_role("switch", name="Spread calls over these entries").check()
    assert (await model(site, "deepseek", "deepseek-flash")).is_load_balanced
    async with patched(page, "/load-balancing/"):
        await entry.get_by_role("switch", name="Enable primary").uncheck()
    await expect(entry.locator('.pill[data-status="disabled"]')).to_be_visible()  # the answer, without a refresh

    entries = await site.services.pools.list(
        workspace_id=site.workspace_id, provider="deepseek", model="deepseek-flash", model_type="llm"
    )
    assert [(e.name, e.weight, e.is_enabled, e.credential_id) for e in entries] == [
        ("__inherit__", 1, True, credential),  # the active credential takes part too, as in Dify
        ("primary", 5, False, credential),
    ]
    await panel.locator("tr[data-name]").evaluate_all("rows => rows.forEach(row => row.dataset.stale = '1')")
    await panel.get_by_role("button", name="Refresh").click()
    await expect(panel.locator("tr[data-stale]")).to_have_count(0)  # redrawn: a field filled before would be lost
    await expect(entry.locator('.pill[data-status="disabled"]')).to_be_visible()
    own = panel.get_by_role("spinbutton", name="Weight of Active credential: DeepSeek 1")
    async with patched(page, "/load-balancing/"):
        await own.fill("4")
        await own.press("Tab")
    entries = await site.services.pools.list(
        workspace_id=site.workspace_id, provider="deepseek", model="deepseek-flash", model_type="llm"
    )
    assert (entries[0].is_inherit, entries[0].weight) == (True, 4)
    await expect(panel.locator("tr.inherit").get_by_role("button", name="Delete")).to_have_count(0)


async def test_a_custom_model_is_added_from_its_schema_listed_and_deleted(page, site):
    await sign_in(page)
    await page.goto("/#/providers/openai_api_compatible")
    form = page.locator("form.add-custom-model")
    await form.locator('input[name="model"]').fill("local-llama")
    await form.get_by_label("Model type").select_option("llm")
    await form.get_by_label("API base URL").fill(f"{site.fake.url}/v1")
    await form.get_by_label("Function calling").select_option("tool_call")

    await form.get_by_role("button", name="Add model").click()

    row = page.locator('#custom-model-list [data-model="local-llama"]')
    await expect(row.locator('.pill[data-status="verified"]')).to_be_visible()
    assert site.fake.last.json["model"] == "local-llama"
    listed = page.locator('tr[data-model="openai_api_compatible/local-llama"]')
    await expect(listed.locator('.badge[data-feature="tool-call"]')).to_be_visible()

    await row.get_by_role("button", name="Delete").click()
    await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    await expect(page.locator("#custom-model-list")).to_contain_text("No custom models yet.")
    await expect(listed).to_have_count(0)


async def test_a_model_row_shows_the_servers_answer_after_a_switch_without_a_reload(page, site):
    await add_deepseek(site)
    await sign_in(page)
    await page.goto("/#/models?provider=deepseek")
    row = page.locator('tr[data-model="deepseek/deepseek-flash"]')
    switch = row.get_by_role("switch", name="Enable deepseek-flash")
    await expect(row.locator('.pill[data-status="available"]')).to_be_visible()

    async with patched(page, "/models"):
        await switch.uncheck()
    await expect(row.locator('.pill[data-status="unavailable"]')).to_be_visible()
    await expect(row).to_contain_text("is disabled")

    async with patched(page, "/models"):
        await switch.check()
    await expect(row.locator('.pill[data-status="available"]')).to_be_visible()
    await expect(row).not_to_contain_text("is disabled")

    balance = row.get_by_role("button", name="Load balancing")
    await balance.click()
    panel = page.locator('.load-balancing[data-model="deepseek/deepseek-flash"]')
    async with patched(page, "/models"):
        await panel.get_by_role("switch", name="Spread calls over these entries").check()
    await expect(balance).to_have_text("Load balancing: on")
    async with patched(page, "/models"):
        await panel.get_by_role("switch", name="Spread calls over these entries").uncheck()
    await expect(balance).to_have_text("Load balancing")


async def test_deprecated_models_that_answer_are_offered_as_defaults_marked_and_ranked_last(page, site):
    openai = {"openai_api_key": "sk-openai-0011223344556677", "openai_api_base": site.fake.url}
    await site.services.credentials.create(
        workspace_id=site.workspace_id, provider="openai", values=openai, validate=False
    )
    await sign_in(page)
    await page.goto("/#/defaults")
    speech = page.locator('.defaults article[data-model-type="tts"]')

    await expect(speech.locator('.current[data-source="automatic"]')).to_contain_text("openai/")
    picker = speech.get_by_label("Default model")
    await expect(picker.locator("option", has_text="tts-1 (deprecated)")).to_have_count(1)
    llm = page.locator('.defaults article[data-model-type="llm"]').get_by_label("Default model")
    options = await llm.locator("option").all_text_contents()
    first_deprecated = next(i for i, o in enumerate(options) if o.endswith("(deprecated)"))
    assert all(o.endswith("(deprecated)") for o in options[first_deprecated:]), "deprecated models come last"

    await page.goto("/#/models?provider=openai&model_type=tts")
    row = page.locator('tr[data-model="openai/tts-1"]')
    await expect(row.locator(".badge.deprecated")).to_be_visible()
    await expect(row.locator('.pill[data-status="available"]')).to_be_visible()
