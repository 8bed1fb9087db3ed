"""Anthropic's signed thinking, carried through the unified values so a thinking turn can be sent back.

The unified values keep reasoning as plain text. Anthropic also wants each thinking block back unchanged, with
its signature (and a redacted block's opaque data), on the assistant turn of a tool loop. These subclasses add
just that; they are accepted wherever the base values are, and every other protocol ignores the extra fields.
"""

from __future__ import annotations

from modelyard.types import ChatChunk, ChatResult, Message
from modelyard.types.value import Value


class ReasoningBlock(Value, frozen=True):
    """One thinking block as the model produced it: its text and signature, or a redacted block's data."""

    text: str = ""
    signature: str | None = None
    redacted: str | None = None


class SignedMessage(Message, frozen=True):
    """An assistant message with the thinking blocks Anthropic needs back verbatim."""

    reasoning_blocks: tuple[ReasoningBlock, ...] = ()


class SignedResult(ChatResult, frozen=True):
    reasoning_blocks: tuple[ReasoningBlock, ...] = ()

    def message(self) -> Message:
        return SignedMessage(
            role="assistant",
            content=self.content,
            tool_calls=self.tool_calls,
            reasoning=self.reasoning,
            reasoning_blocks=self.reasoning_blocks,
        )


class SignedChunk(ChatChunk, frozen=True):
    """A streamed piece that ends the thinking block streamed so far (its signature), or a whole redacted block."""

    reasoning_signature: str = ""
    redacted_reasoning: str = ""


def reasoning_blocks(message: Message) -> tuple[ReasoningBlock, ...]:
    return message.reasoning_blocks if isinstance(message, SignedMessage) else ()
