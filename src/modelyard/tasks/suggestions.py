"""Suggested follow-up questions: exactly three when the model gives three usable ones, each bounded in length."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from modelyard.catalog.spec import ModelSpec
from modelyard.tasks import parsing, prompts
from modelyard.tasks.conversation import transcript
from modelyard.tasks.language import conversation_language
from modelyard.types import ChatRequest, Message, ResponseFormat, Usage
from modelyard.types.value import Value

QUESTION_COUNT = 3
QUESTION_MAX_CHARS = 120  # a hard bound: a longer question is left out, not cut (a cut question asks nothing)
QUESTION_MAX_CJK_CHARS = 40  # what the prompt asks of Chinese, Japanese and Korean questions
MAX_TOKENS = 2048  # room for a reasoning model's thoughts; the quota reserves no more than this
# No minItems/maxItems: Anthropic's structured output refuses array bounds (docs, 2026-11); the count is checked here.
SCHEMA = {
    "type": "object",
    "properties": {"questions": {"type": "array", "items": {"type": "string"}}},
    "required": ["questions"],
    "additionalProperties": False,
}
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_QUESTION_END = ("?", "？")
_LABEL = re.compile(r"^(?:question\s*\d*|问题\s*\d*|問題\s*\d*)\s*[:：.]\s*", re.IGNORECASE)


class SuggestedQuestions(Value, frozen=True):
    """Follow-up questions, usually `QUESTION_COUNT`; fewer only when the model twice gave fewer usable ones.
    `usage` sums every call they took."""

    questions: tuple[str, ...]
    model: str
    usage: Usage


def questions_request(model: ModelSpec, messages: Sequence[Message], *, again: bool = False) -> ChatRequest:
    system = prompts.QUESTIONS_SYSTEM.format(
        count=QUESTION_COUNT,
        max_chars=QUESTION_MAX_CHARS,
        max_cjk_chars=QUESTION_MAX_CJK_CHARS,
        language=prompts.language_instruction(conversation_language(messages)),
        slots=", ".join(['"..."'] * QUESTION_COUNT),
    )
    task = prompts.QUESTIONS_TASK.format(count=QUESTION_COUNT)
    if again:
        task = prompts.QUESTIONS_AGAIN.format(count=QUESTION_COUNT, max_chars=QUESTION_MAX_CHARS)
    user = prompts.CONVERSATION.format(transcript=transcript(messages, keep="last"), task=task)
    response_format = None
    if model.supports("structured-output"):
        response_format = ResponseFormat("json_schema", name="suggested_questions", schema=SCHEMA, strict=True)
    return ChatRequest(
        messages=(Message.system(system), Message.user(user)),
        response_format=response_format,
        max_tokens=MAX_TOKENS,
    )


def parse_questions(content: str) -> list[str]:
    """The usable questions in an answer, in order, cleaned and without repeats (possibly more or fewer than
    QUESTION_COUNT: the caller decides)."""
    text = parsing.visible_text(content)
    for candidates in (_from_json(parsing.json_value(text)), _from_cut_json(text), _from_lines(text)):
        questions = _usable(candidates)
        if questions:
            return questions
    return []


def _from_json(value: Any) -> list[Any]:
    if isinstance(value, dict):
        named = {str(k).lower(): v for k, v in value.items()}
        lists = [named["questions"]] if "questions" in named else named.values()  # another key only without it
        value = next((v for v in lists if isinstance(v, list)), [])
    if not isinstance(value, list):
        return []
    items = []
    for item in value:
        if isinstance(item, dict):  # [{"question": "..."}]
            item = next((v for v in item.values() if isinstance(v, str)), None)
        items.append(item)
    return items


def _from_cut_json(text: str) -> list[str]:
    """The complete strings of a JSON answer cut off before its end (the token limit), after its key."""
    _, key, rest = text.partition('"questions"')
    if not key:
        return []
    found = []
    for match in _QUOTED.finditer(rest):
        try:
            found.append(json.loads(f'"{match.group(1)}"'))
        except ValueError:
            continue
    return found


def _from_lines(text: str) -> list[str]:
    items = parsing.list_items(text)
    if items:
        return items
    lines = [line for line in parsing.lines(text) if not parsing.is_lead_in(line)]
    asked = [line for line in lines if line.endswith(_QUESTION_END)]
    return asked or lines


def _usable(candidates: list[Any]) -> list[str]:
    questions: list[str] = []
    seen: set[str] = set()
    for candidate in candidates:
        if not isinstance(candidate, str):
            continue
        question = clean_question(candidate)
        if question is not None and question.casefold() not in seen:
            seen.add(question.casefold())
            questions.append(question)
    return questions


def clean_question(raw: str) -> str | None:
    text = parsing.cleaned(raw.strip().rstrip(",，;；"), strip_end=False)
    text = parsing.cleaned(_LABEL.sub("", text), strip_end=False)
    if not any(c.isalnum() for c in text) or len(text) > QUESTION_MAX_CHARS:
        return None
    return text
