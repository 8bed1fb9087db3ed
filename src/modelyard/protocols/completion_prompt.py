"""A conversation as the one prompt text of a completion-mode model (OpenAI's legacy /completions, Ollama's
/api/generate), by one template every wire of the kind shares:

* a conversation that is one user message (after any system messages) is sent as its text alone, the system
  messages' texts before it, each a paragraph: what a completion caller writes is what the model reads;
* any longer conversation becomes paragraphs `User: …` and `Assistant: …` in order (system texts as they are),
  ending with `Assistant:` when the last message is the user's, so the model writes the next turn; the template
  then adds `\\nUser:` to the stop sequences, so the model ends its turn where the next one would begin;
* text only: tools, tool calls and results, images, audio and documents are refused, naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.errors import UnsupportedFeatureError
from modelyard.protocols.base import Target
from modelyard.types import ChatRequest, Message, TextPart

USER = "User:"
ASSISTANT = "Assistant:"
TURN_STOP = "\n" + USER  # where a model writing an assistant turn would start the user's next one


def is_completion_mode(target: Target) -> bool:
    """A model whose form says `mode: completion` (catalog/custom.py), or a catalog model listed so."""
    return target.model.properties.mode == "completion"


@dataclass(frozen=True, slots=True)
class CompletionPrompt:
    text: str
    stop: tuple[str, ...]  # the caller's stop sequences, and the template's own for a conversation


def completion_prompt(request: ChatRequest, *, model: str) -> CompletionPrompt:
    """The prompt text and stop sequences for `request`; raises UnsupportedFeatureError for what text cannot carry."""
    if request.tools:
        raise UnsupportedFeatureError(f"{model} runs in completion mode, which takes no tools", field="tools")
    for message in request.messages:
        _check_text_only(message, model)
    turns = [m for m in request.messages if m.role != "system"]
    if len(turns) == 1 and turns[0].role == "user" and request.messages[-1].role == "user":
        paragraphs = [m.text for m in request.messages]
        return CompletionPrompt("\n\n".join(p for p in paragraphs if p), request.stop)
    paragraphs = [_paragraph(m) for m in request.messages]
    if request.messages[-1].role == "user":
        paragraphs.append(ASSISTANT)
    stop = request.stop if TURN_STOP in request.stop else (*request.stop, TURN_STOP)
    return CompletionPrompt("\n\n".join(paragraphs), stop)


def _paragraph(message: Message) -> str:
    if message.role == "system":
        return message.text
    return f"{USER if message.role == 'user' else ASSISTANT} {message.text}"


def _check_text_only(message: Message, model: str) -> None:
    if message.role == "tool" or message.tool_calls:
        raise UnsupportedFeatureError(
            f"{model} runs in completion mode, which takes no tool calls or results", field="messages"
        )
    if not isinstance(message.content, str) and any(not isinstance(part, TextPart) for part in message.content):
        raise UnsupportedFeatureError(
            f"{model} runs in completion mode, which takes text only (no images, audio or documents)",
            field="messages",
        )
