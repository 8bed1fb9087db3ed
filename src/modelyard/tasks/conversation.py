"""The conversation a task reads: checked once, then shown to the model as a bounded transcript.

The conversation goes to the model as text inside the task's own prompt, not as chat turns: given the turns
themselves, a model tends to carry on the conversation instead of describing it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from modelyard.errors import InvalidRequestError
from modelyard.protocols.openai import ingress
from modelyard.types import Message
from modelyard.types.chat import AudioPart, DocumentPart, ImagePart, TextPart

MESSAGE_CHARS = 2_000  # of each message: the head and the tail, which say what it is about
TRANSCRIPT_MESSAGES = 8  # the first ones name a conversation; the last ones lead to what comes next
_SPEAKERS = {"user": "User", "assistant": "Assistant"}
_TAGS = re.compile(r"</?\s*conversation\s*>", re.IGNORECASE)
_PART_NAMES = {ImagePart: "[image]", AudioPart: "[audio]", DocumentPart: "[document]"}

ConversationInput = Sequence[Message | Mapping[str, Any]]


def conversation_messages(messages: Any) -> tuple[Message, ...]:
    """OpenAI-shaped (or unified) messages, checked; at least one user or assistant message must say something."""
    if not isinstance(messages, Sequence) or isinstance(messages, str | bytes) or not messages:
        raise InvalidRequestError("messages must be a non-empty array of chat messages", field="messages")
    checked = tuple(ingress.message(m, f"messages[{i}]") for i, m in enumerate(messages))
    if not any(m.role in _SPEAKERS and _said(m) for m in checked):
        raise InvalidRequestError("messages hold no user or assistant text to read", field="messages")
    return checked


def transcript(messages: Sequence[Message], *, keep: Literal["first", "last"]) -> str:
    """The user's and assistant's turns as `User: ...` / `Assistant: ...` blocks; system and tool turns are left out
    (they are instructions and data, not the conversation)."""
    turns = [m for m in messages if m.role in _SPEAKERS and _said(m)]
    kept = turns[:TRANSCRIPT_MESSAGES] if keep == "first" else turns[-TRANSCRIPT_MESSAGES:]
    blocks = [f"{_SPEAKERS[m.role]}: {_fenced(_shortened(_said(m)))}" for m in kept]
    if len(kept) < len(turns):
        blocks.insert(len(blocks) if keep == "first" else 0, "[…]")
    return "\n\n".join(blocks)


def _said(message: Message) -> str:
    if isinstance(message.content, str):
        return message.content.strip()
    parts = [part.text if isinstance(part, TextPart) else _PART_NAMES[type(part)] for part in message.content]
    return " ".join(p.strip() for p in parts if p.strip())


def _fenced(text: str) -> str:
    """The text unable to close the prompt's <conversation> block early (and so to pose as the task's own words)."""
    return _TAGS.sub(lambda tag: tag.group().replace("<", "‹").replace(">", "›"), text)


def _shortened(text: str) -> str:
    if len(text) <= MESSAGE_CHARS:
        return text
    half = MESSAGE_CHARS // 2
    return f"{text[:half].rstrip()} […] {text[-half:].lstrip()}"
