"""Server errors and reasons in the console's language: the console words each code and its params in Chinese
(static/js/messages.js), and every code it can show has a wording, so a new code without one fails here."""

from __future__ import annotations

import re
import typing

from modelyard.console.errors import VALIDATION_CODE, EdgeCode
from modelyard.console.views import ReasonCode
from modelyard.error_contract import INTERNAL, ROWS
from tests.support.web import add_deepseek, expect, sign_in

CLIENT_CODES = {"unreachable"}  # api.js: the server could not be reached
HAN = re.compile(r"[\u4e00-\u9fff]")
MODULE = "new URL('/static/js/messages.js', location.href).href"  # import() in an evaluated script needs a whole URL
LANGUAGE_TOGGLE = re.compile("Switch language|切换语言")


async def server_zh(page) -> dict[str, object]:
    await page.goto("/")
    return await page.evaluate(f"async () => (await import({MODULE})).SERVER_ZH")


async def word(page, code: str, params: dict[str, str], english: str = "an English sentence") -> str | None:
    script = f"async ([c, p, e]) => (await import({MODULE})).zhMessage(c, p, e)"
    return await page.evaluate(script, [code, params, english])


async def test_every_code_the_console_can_show_has_a_chinese_wording(page) -> None:
    wordings = await server_zh(page)

    codes = (
        {row.code for row in ROWS.values()}
        | {INTERNAL.code, VALIDATION_CODE}
        | set(typing.get_args(EdgeCode))
        | set(typing.get_args(ReasonCode))
        | CLIENT_CODES
    )
    assert sorted(codes - set(wordings)) == []
    for code, entry in wordings.items():
        templates = entry.values() if isinstance(entry, dict) else [entry]
        assert not isinstance(entry, dict) or "other" in entry, f"{code}: a code with cases needs `other`"
        assert all(HAN.search(template) for template in templates), f"{code} has a wording with no Chinese"


async def test_params_fill_the_wording_and_a_missing_one_falls_back_to_english(page) -> None:
    await page.goto("/")
    params = {"case": "no_such_model", "provider": "deepseek", "model": "deepseek-x", "model_type": "rerank"}
    assert await word(page, "model_not_found", params) == "此工作空间中的 deepseek 没有重排序模型 deepseek-x"
    assert await word(page, "model_not_found", {"case": "a case not worded"}, "no such model") == (
        "找不到该模型：no such model"
    )
    assert await word(page, "upstream_timeout", {}) is None  # {provider} unknown: the English sentence is shown
    assert await word(page, "a_code_from_a_newer_server", {}) is None


async def switch_to_chinese(page) -> None:
    await page.get_by_role("button", name="Switch language").click()
    await expect(page.locator('.sidenav a[data-nav="playground"]')).to_have_text("调试")


async def test_the_default_model_picker_says_no_usable_rerank_model_in_chinese(page, site) -> None:
    await sign_in(page)
    await switch_to_chinese(page)

    await page.goto("/#/defaults")

    rerank = page.locator('.defaults article[data-model-type="rerank"] .reason')
    await expect(rerank).to_have_text("此工作空间还没有可用的重排序模型")


async def test_a_failed_credential_check_is_worded_in_chinese_and_back_in_english(page, site) -> None:
    await add_deepseek(site)
    await sign_in(page)
    await switch_to_chinese(page)
    await page.goto("/#/providers/deepseek")
    row = page.locator('#credential-list [data-name="DeepSeek 1"]')
    site.fake.fail(401, "Incorrect API key provided", type="authentication_error", code="invalid_api_key")

    await row.locator('button:has-text("校验")').click()

    alert = row.get_by_role("alert")
    await expect(alert).to_contain_text("deepseek 的凭据未通过最近一次校验")
    await page.get_by_role("button", name=LANGUAGE_TOGGLE).click()
    await expect(alert).to_contain_text("the test call failed: [deepseek]")
    await expect(alert).not_to_contain_text("校验")


async def test_a_key_the_provider_refuses_on_save_is_worded_in_chinese(page, site) -> None:
    await sign_in(page)
    await switch_to_chinese(page)
    await page.goto("/#/providers/deepseek")
    form = page.locator("form.add-credential")
    await form.locator('[data-field="api_key"] input').fill("sk-wrong")
    await form.locator('[data-field="endpoint_url"] input').fill(f"{site.fake.url}/v1")
    site.fake.fail(401, "Incorrect API key provided", type="authentication_error", code="invalid_api_key")

    await form.locator('button[type="submit"]').click()

    await expect(form.locator(".form-error")).to_have_text(
        "测试调用失败：deepseek 答复“credentials refused: Incorrect API key provided (HTTP 401)”"
    )


async def test_a_switched_off_model_says_why_in_chinese(page, site) -> None:
    await add_deepseek(site)
    await site.services.models.set_enabled(
        workspace_id=site.workspace_id, provider="deepseek", model="deepseek-flash", model_type="llm", enabled=False
    )
    await sign_in(page)
    await switch_to_chinese(page)

    await page.goto("/#/models?provider=deepseek")

    reason = page.locator('tr[data-model="deepseek/deepseek-flash"] .reason')
    await expect(reason).to_have_text("deepseek 的 deepseek-flash 已在此工作空间停用，启用后才能使用")
