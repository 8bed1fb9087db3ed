"""The tokenizer-free bound of a prompt (`quota.estimate`): never below the shipped o200k tokenizer's count."""

from __future__ import annotations

import random

import pytest

from modelyard.runtime import tokenizer
from modelyard.services.quota.estimate import prompt_bound, text_bound
from modelyard.types import ChatRequest, ImagePart, Message, TextPart, Tool, ToolCall

ADVERSARIAL = [
    "",
    "a",
    " " * 1000,
    "\n\r\t" * 300,
    "0123456789" * 100,
    "aaaaaaaa" * 500,  # long runs merge into few tokens: far below the bound
    "<|endoftext|><|endofprompt|>",  # special tokens' text is counted as text, never as one token
    "👩‍👩‍👧‍👦🏳️‍🌈" * 50,
    "日本語のテキストと中文文本" * 40,
    "Ω≈ç√∫˜µ≤≥÷" * 40,
    "\ud800 lone \udfff surrogates",
    "ﷺ" * 100,  # one code point, several tokens? still at most its 3 bytes each
    "a\u0301" * 200,  # combining marks
]


@pytest.mark.parametrize("text", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_a_texts_utf8_length_is_at_least_its_token_count(text: str) -> None:
    assert text_bound(text) >= tokenizer.count_text(text)


def test_random_code_points_never_beat_the_bound() -> None:
    generator = random.Random(18)
    for _ in range(300):
        size = generator.randint(1, 200)
        text = "".join(
            chr(generator.choice([generator.randint(0x20, 0x7E), generator.randint(0x80, 0x10FFFF)]))
            for _ in range(size)
        )
        assert text_bound(text) >= tokenizer.count_text(text), repr(text)


def test_a_chat_prompts_bound_covers_its_counted_prompt() -> None:
    request = ChatRequest(
        messages=(
            Message.system("Be brief. 简洁。"),
            Message(role="user", content=(TextPart(text="What is this? 🤔"), ImagePart(url="https://x/y.png"))),
            Message(role="assistant", content="", tool_calls=(ToolCall(id="c1", name="look", arguments='{"q": "é"}'),)),
            Message.user("<|endoftext|>" * 20),
        ),
        tools=(Tool(name="look", description="Looks things up", parameters={"type": "object"}),),
    )

    assert prompt_bound(request) >= tokenizer.count_prompt(request)
