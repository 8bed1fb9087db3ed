"""Which language a conversation is in, told by the scripts its user writes: enough to name Chinese, Japanese or
Korean in a prompt. Latin-script languages are left to the model, which is told to mirror the user."""

from __future__ import annotations

from collections.abc import Iterable

from modelyard.types import Message

# One CJK character carries about as much as a word, four or five Latin letters: weighed so, a Chinese question
# with English terms in it ("帮我写一个 quicksort function") counts as Chinese, an English one quoting 你好 does not.
_CJK_WEIGHT = 4


def conversation_language(messages: Iterable[Message]) -> str | None:
    """`Chinese`, `Japanese` or `Korean` when the user's messages are mostly in that script, else None."""
    messages = tuple(messages)
    said = [m.text for m in messages if m.role == "user"] or [m.text for m in messages]
    return script_language("\n".join(said))


def script_language(text: str) -> str | None:
    han = kana = hangul = latin = 0
    for character in text:
        code = ord(character)
        if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF:
            han += 1
        elif 0x3040 <= code <= 0x30FF:
            kana += 1
        elif 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF:
            hangul += 1
        elif code < 0x250 and character.isalpha():
            latin += 1
    if kana and (kana + han) * _CJK_WEIGHT >= latin:  # Japanese mixes kana with kanji; kana alone says Japanese
        return "Japanese"
    if hangul and hangul * _CJK_WEIGHT >= latin:
        return "Korean"
    if han and han * _CJK_WEIGHT >= latin:
        return "Chinese"
    return None
