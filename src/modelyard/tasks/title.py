"""A conversation's title: a few words in the user's language, no quotes, no end punctuation, bounded in length."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from modelyard.catalog.spec import ModelSpec
from modelyard.tasks import parsing, prompts
from modelyard.tasks.conversation import transcript
from modelyard.tasks.language import conversation_language
from modelyard.types import ChatRequest, Message, ResponseFormat, Usage
from modelyard.types.value import Value

TITLE_MAX_CHARS = 60  # a hard bound: a longer answer is cut at a word boundary
TITLE_MAX_CJK_CHARS = 20  # what the prompt asks of Chinese, Japanese and Korean titles
TITLE_WORDS = "3 to 7"
MAX_TOKENS = 1024  # room for a reasoning model's thoughts; the quota reserves no more than this
SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}},
    "required": ["title"],
    "additionalProperties": False,
}
_TITLE_FIELD = re.compile(r'"title"\s*:\s*"((?:[^"\\]|\\.)*)"', re.IGNORECASE)  # in JSON broken after it
_LABEL = re.compile(r"^(?:conversation\s+)?(?:title|标题|標題|タイトル|제목)\s*[:：]\s*", re.IGNORECASE)


class ConversationTitle(Value, frozen=True):
    """A generated title; `usage` sums every call it took (two when the first answer held no usable title)."""

    title: str
    model: str
    usage: Usage


def title_request(model: ModelSpec, messages: Sequence[Message], *, again: bool = False) -> ChatRequest:
    system = prompts.TITLE_SYSTEM.format(
        words=TITLE_WORDS,
        max_chars=TITLE_MAX_CHARS,
        max_cjk_chars=TITLE_MAX_CJK_CHARS,
        language=prompts.language_instruction(conversation_language(messages)),
    )
    task = prompts.TITLE_TASK if not again else f"{prompts.TITLE_AGAIN} {prompts.TITLE_TASK}"
    user = prompts.CONVERSATION.format(transcript=transcript(messages, keep="first"), task=task)
    response_format = None
    if model.supports("structured-output"):
        response_format = ResponseFormat("json_schema", name="conversation_title", schema=SCHEMA, strict=True)
    return ChatRequest(
        messages=(Message.system(system), Message.user(user)),
        response_format=response_format,
        max_tokens=MAX_TOKENS,
    )


def parse_title(content: str) -> str | None:
    """The title in an answer (JSON as asked, or a bare, quoted or labelled line), cleaned; None if it has none."""
    text = parsing.visible_text(content)
    value = parsing.json_value(text)
    candidates: list[str] = []
    if isinstance(value, dict):
        named = {str(k).lower(): v for k, v in value.items()}
        chosen = [named["title"]] if "title" in named else named.values()  # another key only when no `title`
        candidates += [v for v in chosen if isinstance(v, str)]
    elif isinstance(value, list):
        candidates += [v for v in value if isinstance(v, str)]
    field = _TITLE_FIELD.search(text)
    if field:
        candidates.append(_unescaped(field.group(1)))
    candidates += [line for line in parsing.lines(text) if not parsing.is_lead_in(line) and not _is_json(line)]
    for candidate in candidates:
        title = clean_title(candidate)
        if title is not None:
            return title
    return None


def clean_title(raw: str) -> str | None:
    text = parsing.cleaned(_LABEL.sub("", parsing.cleaned(raw, strip_end=True)), strip_end=True)
    if len(text) > TITLE_MAX_CHARS:
        cut = text[:TITLE_MAX_CHARS]
        space = cut.rfind(" ")
        text = parsing.cleaned(cut[:space] if space > TITLE_MAX_CHARS // 2 else cut, strip_end=True)
    return text if any(c.isalnum() for c in text) else None


def _unescaped(text: str) -> str:
    try:
        return str(json.loads(f'"{text}"'))
    except ValueError:
        return text


def _is_json(line: str) -> bool:
    return line.startswith(("{", "[", "}", "]", "```"))
