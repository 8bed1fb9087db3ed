"""Price = units × unit price, as Decimal, in the model's currency."""

from __future__ import annotations

from decimal import Decimal

from msgspec.structs import replace

from modelyard.catalog.spec import Pricing
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
    """`usage` with prices and timings; `billed_units` replaces token counts for per-character/-second models."""
    if pricing is None:
        return replace(usage, latency_s=latency_s, time_to_first_token_s=time_to_first_token_s)
    input_unit_price = pricing.input * pricing.unit
    output_unit_price = pricing.output * pricing.unit
    if pricing.basis == "tokens":
        cached = min(usage.cached_tokens, usage.prompt_tokens)
        cached_unit_price = (pricing.cached_input if pricing.cached_input is not None else pricing.input) * pricing.unit
        input_price = (usage.prompt_tokens - cached) * input_unit_price + cached * cached_unit_price
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
