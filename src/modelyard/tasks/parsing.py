"""Reading what a model answered, however it answered: JSON as asked, JSON in a code fence or in prose, Python-style
lists, numbered or bulleted lines, reasoning left in the text, quotes and labels around the value."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

_REASONING = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.DOTALL | re.IGNORECASE)
_REASONING_END = re.compile(r"</(?:think|thinking|reasoning)>", re.IGNORECASE)
_REASONING_OPEN = re.compile(r"<(?:think|thinking|reasoning)>", re.IGNORECASE)
_FENCE = re.compile(r"```[\w-]*[ \t]*\n?(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",(\s*[\]}])")
_LIST_MARKER = re.compile(
    r"^\s*(?:[-*•·+]|\d{1,2}\s*[.)、:：]|[(（]\d{1,2}[)）]|[①-⑩]|[一二三四五六七八九十][、.．]|Q\d{1,2}\s*[.:：)])\s*(?=\S)"
)
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "「": "」", "『": "』", "《": "》", "«": "»", "„": "“", "`": "`"}
_STRAY_QUOTES = "\"'“”‘’「」『』《》«»„`"
_MARKDOWN_EDGES = re.compile(r"^(?:#+\s*|\*{1,3})|\*{1,3}$")
_SPACES = re.compile(r"\s+")
_END_PUNCTUATION = ".。!！?？,，;；:：…、·~～-—"


def visible_text(content: str) -> str:
    """The answer without reasoning that a model left in its text (`<think>…</think>`, also when the server cut the
    opening tag off, or when the answer ended inside unclosed reasoning)."""
    text = _REASONING.sub("", content)
    ends = list(_REASONING_END.finditer(text))
    if ends:
        text = text[ends[-1].end() :]
    opened = _REASONING_OPEN.search(text)
    if opened:
        text = text[: opened.start()]
    return text.strip()


def json_value(text: str) -> Any | None:
    """The first JSON object or array in the text: the whole text, a fenced block, or one inside prose. None if
    there is none (or only invalid JSON: the caller reads the text as lines instead)."""
    candidates = [text.strip(), *(block.strip() for block in _FENCE.findall(text))]
    for candidate in candidates:
        value = _loads(candidate)
        if isinstance(value, dict | list):
            return value
    decoder = json.JSONDecoder()
    lenient_tries = 3  # each reads to the text's end: a few, not one per bracket
    for start, character in enumerate(text):
        if character not in "{[":
            continue
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            if lenient_tries == 0:
                continue
            lenient_tries -= 1
            value = _lenient(text, start)
        if isinstance(value, dict | list) and value:
            return value
    return None


def list_items(text: str) -> list[str]:
    """The items of a numbered or bulleted list in the text, markers removed; none if it has no list."""
    return [_LIST_MARKER.sub("", line).strip() for line in text.splitlines() if _LIST_MARKER.match(line)]


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def is_lead_in(line: str) -> bool:
    """A line that introduces the answer rather than being it: `Here are three questions:`."""
    return line.rstrip("*_ ").endswith((":", "："))


def cleaned(text: str, *, strip_end: bool) -> str:
    """One line of the value: spaces collapsed, markdown, quotes and (with `strip_end`) end punctuation removed."""
    text = _SPACES.sub(" ", text).strip()
    for _ in range(3):  # nested decorations: **"Title"**
        before = text
        text = _MARKDOWN_EDGES.sub("", text).strip()
        text = _unquoted(text)
        if strip_end:
            text = text.rstrip(_END_PUNCTUATION + " ").strip()
        if text == before:
            break
    return text


def _unquoted(text: str) -> str:
    if len(text) >= 2 and _QUOTES.get(text[0]) == text[-1] and text[-1] not in text[1:-1]:
        return text[1:-1].strip()
    # A quote left open or closed alone, with no other quote in the text to pair with.
    if text[:1] in _STRAY_QUOTES and not any(c in _STRAY_QUOTES for c in text[1:]):
        return text[1:].strip()
    if text[-1:] in _STRAY_QUOTES and not any(c in _STRAY_QUOTES for c in text[:-1]):
        return text[:-1].strip()
    return text


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _lenient(text, 0)


def _lenient(text: str, start: int) -> Any:
    """A bracketed value that is almost JSON: trailing commas, or single quotes as in a Python list."""
    opening = text[start] if start < len(text) else ""
    closing = {"{": "}", "[": "]"}.get(opening)
    end = text.rfind(closing) if closing else -1
    if end <= start:
        return None
    snippet = text[start : end + 1]
    try:
        return json.loads(_TRAILING_COMMA.sub(r"\1", snippet))
    except ValueError:
        pass
    try:
        return ast.literal_eval(snippet)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None
