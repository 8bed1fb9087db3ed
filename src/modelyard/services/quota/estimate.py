"""The most one call can consume, known before it runs: what a reservation sets aside (DESIGN §7b).

Tokens are counted with the shipped o200k tokenizer, the way the runtime counts a call whose provider reports no
usage: exact for OpenAI's models, an estimate for others. Far from a limit, a bound that needs no tokenizer does:
every o200k token stands for at least one byte of UTF-8, so a text's byte length is at least its token count
(`tests/services/test_estimate.py` holds the shipped tokenizer to it); a lease or budget refines it with the count only
when the bound does not fit. A chat call's output is bounded by its `max_tokens`, or
else by the model's output limit in the catalog; an embedding, rerank or moderation call outputs no tokens. A
transcription has no bound before it runs (its audio tokens are unknown), so it is reserved as unbounded.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cached_property
from typing import TypeVar

import msgspec

from modelyard.catalog.spec import ModelSpec
from modelyard.runtime import tokenizer
from modelyard.types import (
    ChatRequest,
    EmbeddingRequest,
    ModerationRequest,
    RerankRequest,
    SpeechRequest,
    TextPart,
    TranscriptionRequest,
)

R = TypeVar("R")


class CallEstimate:
    """One call's worst case in tokens, counted on first use: a meter that does not count tokens never pays for it."""

    def __init__(self, model: ModelSpec, request: object) -> None:
        self.model = model
        self.request = request

    @cached_property
    def input_tokens(self) -> int:
        request = self.request
        if isinstance(request, ChatRequest):
            return tokenizer.count_prompt(request)
        if isinstance(request, EmbeddingRequest):
            return sum(map(tokenizer.count_text, request.texts))
        if isinstance(request, RerankRequest):  # the query is read once per document, as the runtime counts it
            query = tokenizer.count_text(request.query)
            return sum(query + tokenizer.count_text(document) for document in request.documents)
        if isinstance(request, ModerationRequest):
            return sum(map(tokenizer.count_text, request.inputs))
        if isinstance(request, SpeechRequest):
            return tokenizer.count_text(request.text) + tokenizer.count_text(request.instructions or "")
        if isinstance(request, TranscriptionRequest):
            return tokenizer.count_text(request.prompt or "")
        raise TypeError(f"no estimate for a {type(request).__name__}")

    @cached_property
    def input_bound(self) -> int:
        """At least `input_tokens`, counted without the tokenizer: each text's UTF-8 length."""
        request = self.request
        if isinstance(request, ChatRequest):
            return prompt_bound(request)
        if isinstance(request, EmbeddingRequest):
            return sum(map(text_bound, request.texts))
        if isinstance(request, RerankRequest):
            query = text_bound(request.query)
            return sum(query + text_bound(document) for document in request.documents)
        if isinstance(request, ModerationRequest):
            return sum(map(text_bound, request.inputs))
        if isinstance(request, SpeechRequest):
            return text_bound(request.text) + text_bound(request.instructions or "")
        if isinstance(request, TranscriptionRequest):
            return text_bound(request.prompt or "")
        raise TypeError(f"no estimate for a {type(request).__name__}")

    @cached_property
    def output_tokens(self) -> int | None:
        """None: nothing bounds the call's tokens before it runs."""
        if isinstance(self.request, ChatRequest):
            return self.request.max_tokens or output_limit(self.model)
        if isinstance(self.request, TranscriptionRequest):
            return None
        return 0

    def for_model(self, model: ModelSpec) -> CallEstimate:
        """The same call on another model (an alias's fallback), its prompt counted once for both."""
        other = CallEstimate(model, self.request)
        other.__dict__["input_tokens"] = self.input_tokens  # where cached_property keeps what it computed
        return other

    @property
    def tokens(self) -> int | None:
        output = self.output_tokens
        return None if output is None else self.input_tokens + output

    @property
    def tokens_bound(self) -> int | None:
        """At least `tokens`, without the tokenizer."""
        output = self.output_tokens
        return None if output is None else self.input_bound + output


def text_bound(text: str) -> int:
    """At least the text's o200k token count: its UTF-8 length (a lone surrogate is 3 bytes, as the tokenizer's
    replacement character is)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def prompt_bound(request: ChatRequest) -> int:
    """`tokenizer.count_prompt`'s sum, each text counted by `text_bound`."""
    total = 3  # as count_messages: the reply's primer, then per message its overhead, text, images and tool calls
    for message in request.messages:
        total += tokenizer.PER_MESSAGE + text_bound(message.text)
        if not isinstance(message.content, str):
            total += tokenizer.PER_IMAGE * sum(not isinstance(part, TextPart) for part in message.content)
        for call in message.tool_calls:
            total += text_bound(call.name) + text_bound(call.arguments)
    for tool in request.tools:
        total += text_bound(tool.name) + text_bound(tool.description) + text_bound(str(dict(tool.parameters)))
    return total


def output_limit(model: ModelSpec) -> int | None:
    """The most tokens the model writes in one answer, as the catalog states it (None when it states none)."""
    if model.properties.max_output_tokens is not None:
        return model.properties.max_output_tokens
    for rule in model.parameter_rules:
        if rule.name == "max_tokens" and rule.max is not None:
            return int(rule.max)
    return model.properties.context_size


def within(request: R, estimate: CallEstimate, reserved: int) -> R:
    """The request, with a chat call's `max_tokens` lowered so that its prompt and answer fit in `reserved` tokens.

    Called when less remained than the estimate: the answer is cut short (finish reason `length`) instead of
    spending past the quota. A prompt that alone fills the reservation still gets one token of answer.
    """
    if not isinstance(request, ChatRequest):
        return request
    allowance = max(reserved - estimate.input_tokens, 1)
    if request.max_tokens is not None and request.max_tokens <= allowance:
        return request
    return msgspec.structs.replace(request, max_tokens=allowance)


def worst_case_price(estimate: CallEstimate, *, exact: bool = True) -> Decimal | None:
    """The most the call can cost at the catalog's price, in the model's currency; None when nothing bounds it.

    The prompt is priced at its dearest rate (a cache write may cost more than fresh input) in the tier its estimated
    size falls in, the answer at the output rate for its bound. A model without a price costs nothing. `exact`
    False: the prompt is its `input_bound` (no tokenizer; never less than the exact price).
    """
    pricing = estimate.model.pricing
    if pricing is None:
        return Decimal(0)
    if pricing.basis == "requests":
        return pricing.input * pricing.unit
    if pricing.basis == "characters":
        request = estimate.request
        text = request.text if isinstance(request, SpeechRequest) else ""
        return len(text) * pricing.input * pricing.unit
    if pricing.basis == "seconds":
        return None  # the audio's length is not known before the call
    output = estimate.output_tokens
    if output is None:
        return None
    prompt = estimate.input_tokens if exact else estimate.input_bound
    tier = next((tier for tier in reversed(pricing.tiers) if prompt > tier.above_prompt_tokens), None)
    rates = (pricing, tier) if tier is not None else (pricing,)
    prompt_rate = max(
        rate
        for source in rates
        for rate in (source.input, source.cache_write, source.cache_write_1h)
        if rate is not None
    )
    output_rate = next((source.output for source in reversed(rates) if source.output is not None), Decimal(0))
    return (prompt * prompt_rate + output * output_rate) * pricing.unit
