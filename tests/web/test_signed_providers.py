"""A provider of another wire family, set up and used entirely in the web console: AWS Bedrock, whose requests are
SigV4-signed and whose streams come in AWS event-stream framing. The fake checks every signature."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import SECRET
from tests.fakes.aws import FakeAWS
from tests.fakes.registry import FAKES, serving
from tests.web.conftest import expect, sign_in

MODEL = "bedrock/global.amazon.nova-2-lite-v1:0"


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
    assert aws.requests[-1].path.endswith("/converse-stream")
