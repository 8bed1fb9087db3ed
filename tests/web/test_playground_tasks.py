"""After an answer, the playground names the conversation and suggests follow-up questions; a click asks one."""

from __future__ import annotations

import orjson

from tests.fakes.openai import chat_chunk, sse, usage_chunk
from tests.support.web import add_deepseek, expect, sign_in

TITLE = "Python 列表排序"
QUESTIONS = ["怎么倒序排列？", "如何按多个键排序？", "sorted 和 sort 有什么区别？"]
# The page asks for the title and the questions at once, so either call may take either reply: one answer serves both.
BOTH = orjson.dumps({"title": TITLE, "questions": QUESTIONS}).decode()


async def test_the_playground_titles_the_conversation_and_asks_a_suggested_question_on_click(page, site) -> None:
    site.fake.stream(sse(chat_chunk({"role": "assistant", "content": "用 sorted()。"}), chat_chunk({}, "stop"),
                         usage_chunk(12, 4)))  # fmt: skip
    site.fake.reply_chat(BOTH)
    site.fake.reply_chat(BOTH)
    await add_deepseek(site)
    await sign_in(page)
    await page.goto("/#/playground")
    await page.get_by_label("Model", exact=True).select_option("deepseek/deepseek-flash")

    await page.get_by_role("textbox", name="Message").fill("怎么用 Python 给列表排序？")
    await page.get_by_role("button", name="Send").click()

    await expect(page.locator("#conversation-title")).to_have_text(TITLE)
    suggestions = page.get_by_role("group", name="Suggested questions")
    await expect(suggestions).to_have_attribute("data-state", "done")
    await expect(suggestions.get_by_role("button")).to_have_text(QUESTIONS)
    tasks = [r.json for r in site.fake.requests[1:]]
    assert len(tasks) == 2 and all("write in Chinese" in t["messages"][0]["content"] for t in tasks)
    assert all("User: 怎么用 Python 给列表排序？" in t["messages"][1]["content"] for t in tasks)

    await suggestions.get_by_role("button", name=QUESTIONS[1]).click()

    await expect(page.locator("#transcript .message.user").nth(1)).to_have_text(QUESTIONS[1])
    await expect(page.locator("#transcript .message.assistant").nth(1)).to_have_attribute("data-state", "done")
    asked = next(r.json for r in site.fake.requests if r.json.get("stream") and len(r.json["messages"]) == 3)
    assert asked["messages"][-1] == {"role": "user", "content": QUESTIONS[1]}
    await expect(page.locator("#conversation-title")).to_have_text(TITLE)  # named once, not renamed each turn
    await expect(suggestions).to_have_attribute("data-state", "done")


async def test_clear_forgets_the_title_and_the_suggestions(page, site) -> None:
    site.fake.stream(sse(chat_chunk({"role": "assistant", "content": "Hello!"}), chat_chunk({}, "stop")))
    site.fake.reply_chat(BOTH)
    site.fake.reply_chat(BOTH)
    await add_deepseek(site)
    await sign_in(page)
    await page.goto("/#/playground")
    await page.get_by_role("textbox", name="Message").fill("Hi")
    await page.get_by_role("textbox", name="Message").press("Control+Enter")
    await expect(page.locator("#conversation-title")).to_have_text(TITLE)

    await page.get_by_role("button", name="Clear").click()

    await expect(page.locator("#conversation-title")).to_be_hidden()
    await expect(page.locator("#suggestions")).to_be_hidden()
