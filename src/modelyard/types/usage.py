from __future__ import annotations

from decimal import Decimal

from modelyard.types.value import Value

ZERO = Decimal(0)


class Usage(Value, frozen=True):
    """What one call consumed and cost.

    Protocols fill the counts the provider reported; the runtime adds price and timings. `is_estimated` is true
    when the counts came from our tokenizer because the provider reported none.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens read from the provider's cache (part of prompt_tokens)
    cache_write_tokens: int = 0  # prompt tokens written to the provider's cache (part of prompt_tokens)
    cache_write_1h_tokens: int = 0  # of the cache writes, those kept an hour (priced apart where the vendor does)
    reasoning_tokens: int = 0
    input_unit_price: Decimal = ZERO  # per token (or per character/second, see the model's pricing basis)
    output_unit_price: Decimal = ZERO
    input_price: Decimal = ZERO
    output_price: Decimal = ZERO
    total_price: Decimal = ZERO
    currency: str = "USD"
    latency_s: float = 0.0
    time_to_first_token_s: float | None = None
    is_estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


# What a protocol returns when the provider reported no usage; the runtime then estimates it. Compare with `is`.
UNREPORTED = Usage(is_estimated=True)
