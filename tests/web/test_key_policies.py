"""API key policies in the web console: set when a key is created, edited in a dialog, refused next to the field at
fault; the workspace's limits; spend per day as a chart, by key or by model."""

from __future__ import annotations

from decimal import Decimal

import aiohttp

from tests.support.web import add_deepseek, expect, sign_in


async def test_a_key_is_created_with_a_policy_and_its_limits_and_budget_are_listed(page, site):
    await sign_in(page)
    await page.goto("/#/keys")
    form = page.locator("form.create-key")
    await form.get_by_label("Key name").fill("batch")
    await form.get_by_text("Policy (optional)").click()
    await form.get_by_label("Allowed models").fill("deepseek/*\nopenai/gpt-4.1")
    await form.get_by_label("Requests per minute").fill("60")
    await form.get_by_label("Concurrent requests").fill("4")
    await form.get_by_label("Budget", exact=True).fill("10")
    await form.get_by_label("Budget resets").select_option("monthly")
    await form.get_by_label("Soft limit").fill("8")
    await form.get_by_label("Strict parameters").check()

    await form.get_by_role("button", name="Create key").click()
    await page.get_by_role("dialog").get_by_role("button", name="Done").click()

    row = page.locator('#api-key-list tr[data-name="batch"]')
    await expect(row).to_contain_text("60 rpm · 4 concurrent")
    await expect(row).to_contain_text("deepseek/*")
    await expect(row.locator("[data-budget]")).to_contain_text("0.00 of 10.00 USD")
    (key,) = await site.services.api_keys.list(workspace_id=site.workspace_id)
    policy = key.policy
    assert policy.allowed_models == ("deepseek/*", "openai/gpt-4.1")
    assert (policy.requests_per_minute, policy.max_concurrent_requests, policy.strict_params) == (60, 4, True)
    assert policy.budget is not None and (policy.budget.limit, policy.budget.window) == (Decimal(10), "monthly")
    assert policy.budget.soft_limit == Decimal(8) and policy.tokens_per_minute is None


async def test_a_policy_is_edited_in_a_dialog_and_a_bad_value_is_flagged_at_its_field(page, site):
    await site.services.api_keys.create(
        workspace_id=site.workspace_id, name="app", policy={"requests_per_minute": 5, "budget": {"limit": "3"}}
    )
    await sign_in(page)
    await page.goto("/#/keys")
    row = page.locator('#api-key-list tr[data-name="app"]')
    await row.get_by_role("button", name="Edit policy").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_label("Requests per minute")).to_have_value("5")

    await dialog.get_by_label("Soft limit").fill("4")
    await dialog.get_by_role("button", name="Save policy").click()
    await expect(dialog.locator('[data-field="budget.soft_limit"] .field-error')).to_contain_text("below budget.limit")

    await dialog.get_by_label("Soft limit").fill("2")
    await dialog.get_by_label("Requests per minute").fill("")
    await dialog.get_by_label("Tokens per minute").fill("9000")
    await dialog.get_by_role("button", name="Save policy").click()
    await expect(dialog).to_have_count(0)
    await expect(row).to_contain_text("9,000 tpm")
    (key,) = await site.services.api_keys.list(workspace_id=site.workspace_id)
    assert (key.policy.requests_per_minute, key.policy.tokens_per_minute) == (None, 9000)
    assert key.policy.budget is not None and key.policy.budget.soft_limit == Decimal(2)


async def test_the_workspace_limits_are_saved_and_shown(page, site):
    await sign_in(page)
    await page.goto("/#/keys")
    limits = page.locator("form.workspace-limits")
    await limits.get_by_label("Requests per minute").fill("600")
    await limits.get_by_label("Budget", exact=True).fill("500")
    await limits.get_by_label("Budget resets").select_option("daily")
    await limits.get_by_role("button", name="Save limits").click()

    await expect(page.locator("form.workspace-limits .limits-now")).to_contain_text("600 rpm")
    await expect(page.locator("form.workspace-limits [data-budget]")).to_contain_text("0.00 of 500.00 USD")
    saved = await site.services.governor.policies.get(site.workspace_id)
    assert saved.requests_per_minute == 600 and saved.budget is not None and saved.budget.window == "daily"


async def test_spend_per_day_is_charted_by_key_and_by_model(page, site):
    await add_deepseek(site)
    _, first = await site.services.api_keys.create(workspace_id=site.workspace_id, name="first")
    _, second = await site.services.api_keys.create(workspace_id=site.workspace_id, name="second")
    body = {"model": "deepseek/deepseek-flash", "messages": [{"role": "user", "content": "Hi"}]}
    async with aiohttp.ClientSession() as client:
        for key in (first, first, second):
            headers = {"Authorization": f"Bearer {key}"}
            async with client.post(f"{site.url}/v1/chat/completions", json=body, headers=headers) as response:
                assert response.status == 200
    await site.services.invoker.drain()
    await site.services.usage.flush()

    await sign_in(page)
    await page.goto("/#/usage")
    chart = page.locator("#spend-chart svg.spend-chart")
    await expect(chart.locator("rect[data-series]")).to_have_count(2)  # today, one segment per key
    await expect(page.locator("#spend-chart ul.legend")).to_contain_text("first")
    await expect(page.locator("#spend-chart ul.legend")).to_contain_text("second")
    amounts = [
        float(a) for a in await chart.locator("rect[data-series]").evaluate_all("s => s.map(r => r.dataset.amount)")
    ]
    # two calls of the first key, one of the second, each at the same price (series in key-id order: random)
    assert max(amounts) == 2 * min(amounts) > 0

    await page.get_by_label("Spend by").select_option("model")
    await expect(chart.locator("rect[data-series]")).to_have_count(1)
    await expect(page.locator("#spend-chart ul.legend")).to_contain_text("deepseek/deepseek-flash")
    await expect(page.locator("table").filter(has_text="API key")).to_contain_text("first")
