"""Running a task over any chat call: build the prompt, make one ordinary chat call, read the answer, and ask
once more when the answer held nothing usable.

`chat` is whoever calls the model: the library's `Runtime` (explicit credentials), or the services' invoker, whose
calls go through admission, hosted quota, budgets and usage like any other. A task adds no side path of its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from modelyard.catalog.spec import ModelSpec
from modelyard.errors import UpstreamProtocolError
from modelyard.tasks.conversation import ConversationInput, conversation_messages
from modelyard.tasks.suggestions import QUESTION_COUNT, SuggestedQuestions, parse_questions, questions_request
from modelyard.tasks.title import ConversationTitle, parse_title, title_request
from modelyard.types import ChatRequest, ChatResult, Usage

Chat = Callable[[ChatRequest], Awaitable[ChatResult]]


async def generate_title(
    chat: Chat, *, provider: str, model: ModelSpec, messages: ConversationInput
) -> ConversationTitle:
    """A title for the conversation; UpstreamProtocolError when two answers held none."""
    conversation = conversation_messages(messages)
    result = await chat(title_request(model, conversation))
    usage = result.usage
    title = parse_title(result.content)
    if title is None:
        result = await chat(title_request(model, conversation, again=True))
        usage = combined(usage, result.usage)
        title = parse_title(result.content)
    if title is None:
        raise UpstreamProtocolError(f"{model.id} answered twice without a usable title", provider=provider)
    return ConversationTitle(title=title, model=result.model or model.id, usage=usage)


async def suggest_questions(
    chat: Chat, *, provider: str, model: ModelSpec, messages: ConversationInput
) -> SuggestedQuestions:
    """QUESTION_COUNT follow-up questions. With fewer usable ones, the model is asked once more and the usable
    questions of both answers are kept: still fewer is returned as it is; none is an UpstreamProtocolError."""
    conversation = conversation_messages(messages)
    result = await chat(questions_request(model, conversation))
    usage = result.usage
    questions = parse_questions(result.content)
    if len(questions) < QUESTION_COUNT:
        result = await chat(questions_request(model, conversation, again=True))
        usage = combined(usage, result.usage)
        seen = {q.casefold() for q in questions}
        questions += [q for q in parse_questions(result.content) if q.casefold() not in seen]
    if not questions:
        raise UpstreamProtocolError(f"{model.id} answered twice without a usable question", provider=provider)
    return SuggestedQuestions(questions=tuple(questions[:QUESTION_COUNT]), model=result.model or model.id, usage=usage)


def combined(first: Usage, second: Usage) -> Usage:
    """The usage of two calls made for one task, as one."""
    return Usage(
        prompt_tokens=first.prompt_tokens + second.prompt_tokens,
        completion_tokens=first.completion_tokens + second.completion_tokens,
        cached_tokens=first.cached_tokens + second.cached_tokens,
        cache_write_tokens=first.cache_write_tokens + second.cache_write_tokens,
        cache_write_1h_tokens=first.cache_write_1h_tokens + second.cache_write_1h_tokens,
        reasoning_tokens=first.reasoning_tokens + second.reasoning_tokens,
        input_unit_price=first.input_unit_price,
        output_unit_price=first.output_unit_price,
        input_price=first.input_price + second.input_price,
        output_price=first.output_price + second.output_price,
        total_price=first.total_price + second.total_price,
        currency=first.currency,
        latency_s=first.latency_s + second.latency_s,
        time_to_first_token_s=first.time_to_first_token_s,
        is_estimated=first.is_estimated or second.is_estimated,
    )
