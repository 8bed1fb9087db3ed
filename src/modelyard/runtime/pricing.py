"""Price = units × unit price, as Decimal, in the model's currency; each part of a prompt at its own rate."""

from __future__ import annotations

from decimal import Decimal

from msgspec.structs import replace

from modelyard.catalog.spec import PriceTier, Pricing
from modelyard.types import Usage
from modelyard.types.usage import ZERO


def priced(
    usage: Usage,
    pricing: Pricing | None,
    *,
    latency_s: float,
    time_to_first_token_s: float | None = None,
    billed_units: float | None = None,
) -> Usage:
    """`usage` with prices and timings; `billed_units` replaces token counts for per-character/-second models.

    Token prices: the prompt's fresh tokens at the input rate, cache reads at `cached_input`, cache writes at
    `cache_write` (those kept an hour at `cache_write_1h`), the answer at the output rate; a prompt longer than a
    tier's threshold takes that tier's rates for the whole request.
    """
    if pricing is None:
        return replace(usage, latency_s=latency_s, time_to_first_token_s=time_to_first_token_s)
    rates = _rates(pricing, usage.prompt_tokens) if pricing.basis == "tokens" else None
    unit = pricing.unit
    input_unit_price = (rates.input if rates else pricing.input) * unit
    output_unit_price = (rates.output if rates else pricing.output) * unit
    if rates is not None:
        cached = min(usage.cached_tokens, usage.prompt_tokens)
        written = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
        written_1h = min(usage.cache_write_1h_tokens, written)
        fresh = usage.prompt_tokens - cached - written
        input_price = (
            fresh * input_unit_price
            + cached * rates.cached_input * unit
            + (written - written_1h) * rates.cache_write * unit
            + written_1h * rates.cache_write_1h * unit
        )
        output_price = usage.completion_tokens * output_unit_price
    else:
        units = Decimal(1) if pricing.basis == "requests" else Decimal(str(billed_units or 0))
        input_price, output_price = units * input_unit_price, ZERO
    return replace(
        usage,
        input_unit_price=input_unit_price,
        output_unit_price=output_unit_price,
        input_price=input_price,
        output_price=output_price,
        total_price=input_price + output_price,
        currency=pricing.currency,
        latency_s=latency_s,
        time_to_first_token_s=time_to_first_token_s,
    )


class _Rates:
    """The per-unit rates of one request, its prompt-size tier applied; a rate left unset falls back as documented."""

    __slots__ = ("cache_write", "cache_write_1h", "cached_input", "input", "output")

    def __init__(self, pricing: Pricing, tier: PriceTier | None) -> None:
        def pick(name: str) -> Decimal | None:
            value: Decimal | None = getattr(tier, name) if tier is not None else None
            return value if value is not None else getattr(pricing, name)

        def or_else(value: Decimal | None, fallback: Decimal) -> Decimal:
            return value if value is not None else fallback  # a price of 0 is a price, not a missing one

        self.input: Decimal = tier.input if tier is not None else pricing.input
        self.output: Decimal = or_else(pick("output"), ZERO)
        self.cached_input: Decimal = or_else(pick("cached_input"), self.input)
        self.cache_write: Decimal = or_else(pick("cache_write"), self.input)
        self.cache_write_1h: Decimal = or_else(pick("cache_write_1h"), self.cache_write)


def _rates(pricing: Pricing, prompt_tokens: int) -> _Rates:
    tier = None
    for candidate in pricing.tiers:  # ascending thresholds (checked at load): the last one passed applies
        if prompt_tokens > candidate.above_prompt_tokens:
            tier = candidate
    return _Rates(pricing, tier)
