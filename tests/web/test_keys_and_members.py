"""API keys (shown once, copied, listed by prefix, revoked) and workspace members (add, change role)."""

from __future__ import annotations

import aiohttp
import pytest

from modelyard.errors import CredentialError
from tests.support.web import expect, sign_in


async def test_an_api_key_is_shown_once_copied_listed_by_prefix_and_revoked(page, site):
    await sign_in(page)
    await page.goto("/#/keys")
    await page.get_by_label("Key name").fill("backend")

    await page.get_by_role("button", name="Create key").click()

    dialog = page.get_by_role("dialog")
    key = await dialog.locator("#new-api-key").input_value()
    identity = await site.services.api_keys.authenticate(key)
    assert identity.workspace_id == site.workspace_id
    await dialog.get_by_role("button", name="Copy").click()
    await expect(dialog).to_contain_text("Copied")
    assert await page.evaluate("navigator.clipboard.readText()") == key
    await dialog.get_by_role("button", name="Done").click()
    await expect(dialog).to_have_count(0)

    row = page.locator('#api-key-list tr[data-name="backend"]')
    (listed,) = await site.services.api_keys.list(workspace_id=site.workspace_id)
    await expect(row).to_contain_text(listed.prefix)
    await expect(row).to_contain_text("never")
    assert key not in await page.content(), "the key is shown once, in the dialog only"

    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession() as client, client.get(f"{site.url}/v1/models", headers=headers) as response:
        assert response.status == 200  # one gateway call, so the key has a "last used"
    await site.services.api_keys.flush_last_used()
    await page.reload()
    await expect(row).not_to_contain_text("never")

    await row.get_by_role("button", name="Revoke").click()
    await page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    await expect(page.get_by_role("dialog")).to_have_count(0)
    await expect(row.get_by_role("button", name="Revoke")).to_have_count(0)  # the row says Revoked, or is gone
    with pytest.raises(CredentialError):
        await site.services.api_keys.authenticate(key)


async def test_members_are_listed_added_with_a_new_account_and_given_another_role(page, site):
    await sign_in(page)
    await page.goto("/#/members")
    me = page.locator('#member-list tr[data-email="owner@example.com"]')
    await expect(me).to_contain_text("you")
    await expect(me.get_by_role("combobox")).to_have_value("owner")

    form = page.locator("form.add-member")
    await form.get_by_label("Email").fill("dev@example.com")
    await form.get_by_label("Name").fill("Dana Dev")
    await form.get_by_label("Password").fill("another long password")
    await form.get_by_role("button", name="Add member").click()

    dana = page.locator('#member-list tr[data-email="dev@example.com"]')
    await expect(dana.get_by_label("Role of dev@example.com")).to_have_value("member")
    await dana.get_by_label("Role of dev@example.com").select_option("admin")
    await expect(page.locator(".toast")).to_contain_text("dev@example.com is now Admin")
    members = {m.email: m.role for m in await site.services.accounts.members(workspace_id=site.workspace_id)}
    assert members == {"owner@example.com": "owner", "dev@example.com": "admin"}


async def test_a_bad_email_for_a_new_member_is_flagged_next_to_the_email_field(page, site):
    await sign_in(page)
    await page.goto("/#/members")
    form = page.locator("form.add-member")
    await form.get_by_label("Email").fill("not-an-email")
    await form.get_by_label("Password").fill("another long password")

    await form.get_by_role("button", name="Add member").click()

    await expect(form.locator('[data-field="email"] .field-error')).not_to_be_empty()
    await expect(form.get_by_label("Email")).to_be_focused()


async def test_members_added_in_a_row_each_get_the_member_role_unless_another_is_chosen(page, site):
    await sign_in(page)
    await page.goto("/#/members")
    form = page.locator("form.add-member")
    role = form.get_by_label("Role")
    await expect(role).to_have_value("member")
    await role.select_option("admin")
    for email in ("first@example.com", "second@example.com"):
        await form.get_by_label("Email").fill(email)
        await form.get_by_label("Password").fill("another long password")
        await form.get_by_role("button", name="Add member").click()
        await expect(page.locator(f'#member-list tr[data-email="{email}"]')).to_have_count(1)
        await expect(role).to_have_value("member")  # reset to the declared default, not to the first option

    members = {m.email: m.role for m in await site.services.accounts.members(workspace_id=site.workspace_id)}
    assert members == {"owner@example.com": "owner", "first@example.com": "admin", "second@example.com": "member"}


async def test_an_api_key_without_a_name_is_refused_next_to_the_name_field(page, site):
    await sign_in(page)
    await page.goto("/#/keys")
    form = page.locator("form.create-key")
    name = form.get_by_label("Key name")
    await expect(name).to_have_attribute("required", "")
    await name.fill("   ")

    await form.get_by_role("button", name="Create key").click()

    await expect(form.locator('[data-field="name"] .field-error')).to_have_text("Key name is required")
    await expect(name).to_be_focused()
    assert await site.services.api_keys.list(workspace_id=site.workspace_id) == []
