"""Custom models in the console: fields shown by model type, editing with masked secrets, readable summaries,
and a form that comes back to its declared defaults."""

from __future__ import annotations

from tests.support import SECRET
from tests.support.web import expect, sign_in

PROVIDER = "openai_api_compatible"


async def stored_values(site, model: str) -> dict[str, str]:
    listed = await site.services.models.list_custom(workspace_id=site.workspace_id, provider=PROVIDER)
    return next(m.values for m in listed if m.model == model)


async def test_the_form_shows_each_field_only_for_the_model_types_it_applies_to_and_stores_only_those(page, site):
    await sign_in(page)
    await page.goto(f"/#/providers/{PROVIDER}")
    form = page.locator("form.add-custom-model")
    await expect(form.get_by_label("Function calling")).to_be_visible()
    await expect(form.get_by_label("Embedding batch size")).to_be_hidden()

    await form.get_by_label("Model type").select_option("text-embedding")

    for llm_only in ("Function calling", "Image input", "Structured output (JSON schema)", "Voices (comma-separated)"):
        await expect(form.get_by_label(llm_only)).to_be_hidden()
    await expect(form.get_by_label("Embedding batch size")).to_be_visible()
    await form.locator('input[name="model"]').fill("local-embed")
    await form.get_by_label("API base URL").fill(f"{site.fake.url}/v1")
    await form.get_by_label("Embedding batch size").fill("16")
    await form.get_by_role("switch", name="Check with the provider before saving").uncheck()
    await form.get_by_role("button", name="Add model").click()

    row = page.locator('#custom-model-list [data-model="local-embed"]')
    await expect(row).to_contain_text("Embedding batch size")
    await expect(row).not_to_contain_text("Function calling")
    stored = await stored_values(site, "local-embed")
    assert stored["max_chunks"] == "16"
    assert not {"function_calling_type", "vision_support", "max_tokens_to_sample", "voices"} & set(stored)


async def test_after_a_submit_the_form_is_back_to_its_defaults_and_required_fields_are_required(page, site):
    await sign_in(page)
    await page.goto(f"/#/providers/{PROVIDER}")
    form = page.locator("form.add-custom-model")
    await form.get_by_role("button", name="Add model").click()
    await expect(form.locator('[data-field="model"] .field-error')).to_have_text("Model name is required")
    await form.locator('input[name="model"]').fill("first")
    await form.get_by_role("button", name="Add model").click()
    await expect(form.locator('[data-field="endpoint_url"] .field-error')).to_have_text("API base URL is required")

    await form.get_by_label("Model type").select_option("text-embedding")
    await form.get_by_label("API base URL").fill(f"{site.fake.url}/v1")
    await form.get_by_label("Context size").fill("8192")
    await form.get_by_role("switch", name="Check with the provider before saving").uncheck()
    await form.get_by_role("button", name="Add model").click()
    await expect(page.locator('#custom-model-list [data-model="first"]')).to_be_visible()

    await expect(form.get_by_label("Model type")).to_have_value("llm")  # the declared default, and its fields
    await expect(form.get_by_label("Context size")).to_have_value("4096")
    await expect(form.get_by_label("Function calling")).to_have_value("no_call")
    await expect(form.get_by_label("Embedding batch size")).to_be_hidden()
    await expect(form.get_by_label("API base URL")).to_have_value("")
    await expect(form.get_by_label("API base URL")).to_have_attribute("aria-required", "true")


async def test_a_custom_model_is_edited_keeping_its_masked_secret_and_its_summary_shows_labels(page, site):
    await site.services.models.add_custom(
        workspace_id=site.workspace_id,
        provider=PROVIDER,
        model="local-llama",
        model_type="llm",
        values={"endpoint_url": f"{site.fake.url}/v1", "api_key": SECRET, "function_calling_type": "tool_call"},
        validate=False,
    )
    await sign_in(page)
    await page.goto(f"/#/providers/{PROVIDER}")
    row = page.locator('#custom-model-list [data-model="local-llama"]')
    await expect(row.locator('[data-value="function_calling_type"]')).to_have_text(
        "Function calling: Tool calls (parallel allowed)"
    )
    await expect(row.locator('[data-value="vision_support"]')).to_have_text("Image input: Not supported")
    await expect(row).not_to_contain_text("tool_call")
    await expect(row).not_to_contain_text("no_support")

    await row.get_by_role("button", name="Edit").click()
    edit = row.locator("form.edit")
    await expect(edit.locator('input[name="api_key"]')).to_have_value("************")
    await edit.get_by_label("Image input").select_option("support")
    await edit.get_by_role("button", name="Save changes").click()  # checked with one call upstream

    await expect(row.locator("form.edit")).to_have_count(0)
    await expect(row.locator('[data-value="vision_support"]')).to_have_text("Image input: Supported")
    assert site.fake.last.headers["authorization"] == f"Bearer {SECRET}", "the mask sent back keeps the secret"
    listed = page.locator(f'tr[data-model="{PROVIDER}/local-llama"]')
    await expect(listed.locator('.badge[data-feature="vision"]')).to_be_visible()

    await page.get_by_role("button", name="Switch language").click()
    await expect(row.locator('[data-value="function_calling_type"]')).to_have_text("函数调用: 工具调用（可并行）")


async def test_a_predefined_providers_form_offers_only_the_model_types_its_custom_models_may_be(page, site):
    await sign_in(page)
    await page.goto("/#/providers/tongyi")
    kinds = page.locator("form.add-custom-model").get_by_label("Model type").locator("option")
    await expect(kinds).to_have_count(3)
    assert [await option.get_attribute("value") for option in await kinds.all()] == ["llm", "text-embedding", "rerank"]
