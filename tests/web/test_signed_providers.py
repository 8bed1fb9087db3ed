"""Providers of other wire families, set up and used entirely in the web console: AWS Bedrock (SigV4, AWS
event-stream framing) and Tencent Hunyuan's native API (TC3, chosen in a form whose fields follow the choice).
Each fake checks every signature."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.aws import FakeAWS
from tests.fakes.registry import FAKES, aim_bindings_at, serving
from tests.fakes.tencent import FakeTencent
from tests.support import SECRET
from tests.support.web import expect, sign_in

MODEL = "bedrock/amazon.nova-2-lite-v1:0"  # called through its default profile, global.


@pytest.fixture
async def aws() -> AsyncIterator[FakeAWS]:
    async with serving(FAKES["bedrock"]) as upstream:  # accepts signatures made with SECRET as id and key
        yield upstream


async def test_bedrock_is_configured_in_its_form_then_streams_in_the_playground(page, site, aws):
    await sign_in(page)
    await page.locator('article.card[data-provider="bedrock"]').get_by_role("link").click()
    form = page.locator("form.add-credential")
    await form.get_by_label("Access Key ID").fill(SECRET)
    await form.get_by_label("Secret Access Key").fill(SECRET)
    await expect(form.get_by_label("AWS Region")).to_have_value("us-east-1")
    await form.get_by_label("AWS Region").select_option("eu-central-1")
    await form.get_by_label("Endpoint URL").fill(aws.url)

    await form.get_by_role("button", name="Save").click()

    row = page.locator("#credential-list [data-name]").first
    await expect(row.locator('.pill[data-status="verified"]')).to_have_text("Verified")
    for variable in ("aws_access_key_id", "aws_secret_access_key"):
        await expect(row.locator(f'[data-value="{variable}"] code')).to_have_text("************")
    assert SECRET not in await page.content()
    checked = aws.signatures[-1]
    assert (checked.ok, checked.region, checked.service) == (True, "eu-central-1", "bedrock")

    await page.goto("/#/playground")
    await page.get_by_label("Model", exact=True).select_option(MODEL)
    await page.get_by_role("textbox", name="Message").fill("Say hello")
    await page.get_by_role("button", name="Send").click()

    bubble = page.locator("#transcript .message.assistant")
    await expect(bubble).to_have_attribute("data-state", "done")
    await expect(bubble.locator(".answer")).to_have_text("Hello!")
    await expect(bubble.locator("[data-usage]")).to_contain_text(MODEL)
    # the playground's title and suggestions follow as unstreamed calls of their own: the stream is among them
    assert "/model/global.amazon.nova-2-lite-v1:0/converse-stream" in [r.path for r in aws.requests]


@pytest.fixture
async def tencent(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTencent]:
    async with serving(FAKES["hunyuan"]) as upstream:  # accepts TC3 signatures made with SECRET as id and key
        aim_bindings_at(monkeypatch, FAKES["hunyuan"], upstream)  # the API choice stays the user's
        yield upstream


async def test_hunyuans_native_api_is_chosen_in_the_form_signed_with_tc3_and_streamed(page, site, tencent):
    await sign_in(page)
    await page.locator('article.card[data-provider="hunyuan"]').get_by_role("link").click()
    form = page.locator("form.add-credential")
    await expect(form.get_by_label("API Key")).to_be_visible()
    await expect(form.get_by_label("SecretId")).to_be_hidden()

    await form.locator('select[name="endpoint"]').select_option("https://hunyuan.tencentcloudapi.com")

    await expect(form.get_by_label("API Key")).to_be_hidden()
    await form.get_by_label("SecretId").fill(SECRET)
    await form.get_by_label("SecretKey").fill(SECRET)
    await form.get_by_role("button", name="Save").click()

    row = page.locator("#credential-list [data-name]").first
    await expect(row.locator('.pill[data-status="verified"]')).to_have_text("Verified")
    await expect(row.locator('[data-value="secret_key"] code')).to_have_text("************")
    assert tencent.signatures[-1] == (SECRET, "hunyuan", True)
    assert tencent.requests[-1].headers["x-tc-action"] == "ChatCompletions"

    await page.goto("/#/playground")
    await page.get_by_label("Model", exact=True).select_option("hunyuan/hunyuan-turbos-latest")
    await page.get_by_role("textbox", name="Message").fill("Say hello")
    await page.get_by_role("button", name="Send").click()

    bubble = page.locator("#transcript .message.assistant")
    await expect(bubble).to_have_attribute("data-state", "done")
    await expect(bubble.locator(".answer")).to_have_text("Hello!")
    # the playground's title and suggestions follow as calls of their own, unstreamed: the chat is among them
    assert any(r.json.get("Stream") is True for r in tencent.requests if r.headers["x-tc-action"] == "ChatCompletions")
    assert SECRET not in await page.content()
