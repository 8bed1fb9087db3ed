"""The playground streams an answer from the fake upstream as it arrives, then its usage; usage shows on #/usage."""

from __future__ import annotations

from tests.fakes.openai import chat_chunk, sse, usage_chunk
from tests.support.web import add_deepseek, expect, sign_in

ANSWER = "Hello, streaming world!"
WATCH_ANSWER = """() => {
  window.seen = [];
  const transcript = document.getElementById("transcript");
  new MutationObserver(() => {
    const answer = transcript.querySelector(".assistant .answer");
    if (answer) window.seen.push(answer.textContent);
  }).observe(transcript, { subtree: true, childList: true, characterData: true });
}"""


async def open_playground(page, site):
    await add_deepseek(site)
    await sign_in(page)
    await page.goto("/#/playground")
    await page.get_by_label("Model", exact=True).select_option("deepseek/deepseek-flash")


async def test_playground_streams_the_answer_as_it_arrives_then_shows_its_usage(page, site):
    words = ["Hello", ", ", "streaming ", "world", "!"]
    chunks = [chat_chunk({"role": "assistant", "content": ""}), *(chat_chunk({"content": w}) for w in words)]
    site.fake.stream(sse(*chunks, chat_chunk({}, "stop"), usage_chunk(11, 5)), piece_size=48, pause_s=0.05)
    for _ in range(2):  # then the page asks for a title and follow-up questions: one answer serves either
        site.fake.reply_chat('{"title": "Greeting", "questions": ["Why?", "How?", "When?"]}')
    await open_playground(page, site)
    await page.evaluate(WATCH_ANSWER)

    await page.get_by_role("textbox", name="Message").fill("Say hello")
    await page.get_by_role("textbox", name="Message").press("Control+Enter")

    bubble = page.locator("#transcript .message.assistant")
    await expect(bubble).to_have_attribute("data-state", "done")
    await expect(bubble.locator(".answer")).to_have_text(ANSWER)
    await expect(bubble.locator("[data-usage]")).to_contain_text("11 prompt + 5 completion = 16 tokens")
    await expect(bubble.locator("[data-usage]")).to_contain_text("deepseek/deepseek-flash")
    shown = [text for text in dict.fromkeys(await page.evaluate("window.seen")) if text]
    partial = shown[:-1]
    assert partial, f"the answer appeared all at once: {shown}"
    assert shown[-1] == ANSWER and all(ANSWER.startswith(text) for text in partial)
    sent = site.fake.requests[0].json  # the answer's call; the title and questions follow it
    assert sent["stream"] is True
    assert sent["messages"] == [{"role": "user", "content": "Say hello"}]

    await expect(page.locator("#suggestions")).to_have_attribute("data-state", "done")
    await expect(page.locator("#conversation-title")).to_have_text("Greeting")
    await site.services.usage.flush()
    await page.goto("/#/usage")
    await expect(page.locator("#usage-totals .stat").first).to_contain_text("3")  # the answer, title, questions
    await expect(page.locator("main")).to_contain_text("deepseek/deepseek-flash")


async def test_playground_shows_the_upstreams_error_in_the_answer(page, site):
    site.fake.fail(400, "This model's maximum context length is 8 tokens")
    await open_playground(page, site)

    await page.get_by_role("textbox", name="Message").fill("A long question")
    await page.get_by_role("button", name="Send").click()

    bubble = page.locator("#transcript .message.assistant")
    await expect(bubble).to_have_attribute("data-state", "error")
    await expect(bubble.get_by_role("alert")).to_contain_text("maximum context length")
