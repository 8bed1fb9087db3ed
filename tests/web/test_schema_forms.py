"""Credential forms generated from a provider's schema: every field type, `show_on`, errors by field, two languages.

No catalog provider uses radio, switch or `show_on` today, so the browser is served a schema that does: the
catalog answer (GET /console/api/providers) is rewritten on its way in, and the credential POST is answered here.
"""

from __future__ import annotations

import json

import pytest

from tests.support.web import expect, sign_in

SCHEMA = [
    {
        "variable": "api_key",
        "label": {"en_US": "API Key", "zh_Hans": "API 密钥"},
        "type": "secret-input",
        "required": True,
        "placeholder": {"en_US": "Enter your API key", "zh_Hans": "在此输入您的 API Key"},
        "help": {"en_US": "From the vendor's console", "zh_Hans": "来自供应商控制台"},
    },
    {
        "variable": "mode",
        "label": {"en_US": "Deployment", "zh_Hans": "部署方式"},
        "type": "radio",
        "required": True,
        "default": "cloud",
        "options": [
            {"value": "cloud", "label": {"en_US": "Cloud", "zh_Hans": "云端"}},
            {"value": "self_hosted", "label": {"en_US": "Self-hosted", "zh_Hans": "自托管"}},
        ],
    },
    {
        "variable": "server_url",
        "label": {"en_US": "Server URL", "zh_Hans": "服务地址"},
        "type": "text-input",
        "required": True,
        "show_on": [{"variable": "mode", "value": "self_hosted"}],
    },
    {
        "variable": "region",
        "label": {"en_US": "Region", "zh_Hans": "区域"},
        "type": "select",
        "default": "us",
        "options": [
            {"value": "us", "label": {"en_US": "United States", "zh_Hans": "美国"}},
            {
                "value": "cn",
                "label": {"en_US": "China", "zh_Hans": "中国"},
                "show_on": [{"variable": "mode", "value": "cloud"}],
            },
        ],
    },
    {"variable": "stream", "label": {"en_US": "Streaming"}, "type": "switch", "default": "true"},
]


@pytest.fixture
async def schema_page(page, site):
    """The DeepSeek page with SCHEMA as its credential form; returns (page, the bodies POSTed, their CSRF headers)."""
    posted: list[dict] = []
    csrf: list[str | None] = []

    async def catalog(route):
        response = await route.fetch()
        providers = await response.json()
        for provider in providers:
            if provider["id"] == "deepseek":
                provider["credential_schema"] = SCHEMA
        await route.fulfill(response=response, json=providers)

    async def create(route):
        if route.request.method != "POST":
            await route.continue_()
            return
        posted.append(json.loads(route.request.post_data))
        csrf.append(await route.request.header_value("x-csrf-token"))
        error = {"message": "the server is not reachable at that URL", "type": "invalid_request", "field": "server_url"}
        await route.fulfill(status=400, json={"error": error})

    await page.route("**/console/api/providers", catalog)
    await page.route("**/console/api/workspaces/*/providers/deepseek/credentials", create)
    await sign_in(page)
    await page.goto("/#/providers/deepseek")
    await page.locator("form.add-credential").wait_for()
    return page, posted, csrf


async def test_every_field_type_renders_with_its_label_marker_placeholder_and_help(schema_page):
    page, _, _ = schema_page
    form = page.locator("form.add-credential")

    secret = form.get_by_label("API Key")
    await expect(secret).to_have_attribute("type", "password")
    await expect(secret).to_have_attribute("placeholder", "Enter your API key")
    await expect(secret).to_have_attribute("aria-required", "true")
    await expect(form.locator('[data-field="api_key"] .req')).to_be_visible()
    await expect(form.locator('[data-field="api_key"] .help')).to_have_text("From the vendor's console")
    await expect(form.locator('[data-field="region"] .req')).to_have_count(0)
    await expect(form.get_by_role("radio", name="Cloud")).to_be_checked()
    await expect(form.get_by_label("Region")).to_have_value("us")
    await expect(form.get_by_role("switch", name="Streaming")).to_be_checked()


async def test_show_on_hides_and_shows_fields_and_options_as_values_change(schema_page):
    page, _, _ = schema_page
    form = page.locator("form.add-credential")
    server_url = form.locator('[data-field="server_url"]')
    china = form.locator('select[name="region"] option[value="cn"]')

    await expect(server_url).to_be_hidden()
    await expect(china).to_be_enabled()

    await form.get_by_role("radio", name="Self-hosted").check()
    await expect(server_url).to_be_visible()
    await expect(china).to_be_disabled()

    await form.get_by_role("radio", name="Cloud").check()
    await expect(server_url).to_be_hidden()


async def test_the_form_sends_shown_fields_and_puts_the_error_next_to_the_field_it_names(schema_page):
    page, posted, csrf = schema_page
    form = page.locator("form.add-credential")
    await form.get_by_label("API Key").fill("sk-abc")
    await form.get_by_role("radio", name="Self-hosted").check()
    await form.get_by_label("Server URL").fill("http://10.0.0.1:9000")
    await form.get_by_role("switch", name="Streaming").uncheck()

    await form.get_by_role("button", name="Save").click()

    field = form.locator('[data-field="server_url"]')
    await expect(field.locator(".field-error")).to_have_text("the server is not reachable at that URL")
    await expect(field.locator("input")).to_be_focused()
    await expect(form.locator(".form-error")).to_be_empty()
    values = {"api_key": "sk-abc", "mode": "self_hosted", "server_url": "http://10.0.0.1:9000", "region": "us"}
    assert posted == [{"values": {**values, "stream": "false"}, "validate": True}]
    me = await (await page.request.get("/console/api/auth/me")).json()
    assert csrf == [me["csrf_token"]], "every unsafe request carries the session's CSRF token"


async def test_a_hidden_required_field_is_not_asked_for(schema_page):
    page, posted, _ = schema_page
    form = page.locator("form.add-credential")
    await form.get_by_label("API Key").fill("sk-abc")

    await form.get_by_role("button", name="Save").click()

    # the answer names server_url, which is hidden: the error shows at the form instead
    await expect(form.locator(".form-error")).to_have_text("the server is not reachable at that URL")
    await expect(form.locator('[data-field="server_url"] .field-error')).to_be_empty()
    assert [body["values"] for body in posted] == [
        {"api_key": "sk-abc", "mode": "cloud", "region": "us", "stream": "true"}
    ]


async def test_the_language_toggle_relabels_the_page_in_zh_hans_and_keeps_what_was_typed(schema_page):
    page, _, _ = schema_page
    form = page.locator("form.add-credential")
    await form.get_by_label("API Key").fill("sk-typed")

    await page.get_by_role("button", name="Switch language").click()

    await expect(page.locator("main h1")).to_have_text("深度求索")
    await expect(form.locator('[data-field="api_key"] label')).to_contain_text("API 密钥")
    await expect(form.get_by_role("radio", name="自托管")).to_be_visible()
    await expect(form.locator('select[name="region"] option[value="us"]')).to_have_text("美国")
    await expect(form.locator('[data-field="stream"] label')).to_contain_text("Streaming")  # no zh_Hans: English
    await expect(form.get_by_label("API 密钥")).to_have_attribute("placeholder", "在此输入您的 API Key")
    await expect(form.get_by_label("API 密钥")).to_have_value("sk-typed")
    await expect(page.locator('.sidenav a[data-nav="providers"]')).to_have_text("模型供应商")
    assert await page.evaluate("document.documentElement.lang") == "zh-Hans"

    await page.reload()  # the choice is remembered
    await expect(page.locator("main h1")).to_have_text("深度求索")
    await page.get_by_role("button", name="切换语言").click()
    await expect(page.locator("main h1")).to_have_text("DeepSeek")
