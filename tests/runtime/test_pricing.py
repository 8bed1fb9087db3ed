from __future__ import annotations

from decimal import Decimal

from modelyard.catalog import default_catalog
from modelyard.catalog.spec import Pricing
from modelyard.protocols.anthropic.responses import parse_usage
from modelyard.runtime.pricing import priced
from modelyard.types import Usage

MILLION = Decimal(1_000_000)


def pricing_of(provider: str, model: str) -> Pricing:
    pricing = default_catalog().get(provider).model(model, "llm").pricing  # type: ignore[union-attr]
    assert pricing is not None
    return pricing


def test_gemini_pro_prices_a_prompt_over_200k_tokens_at_its_higher_tier() -> None:
    pricing = pricing_of("gemini", "gemini-2.5-pro")
    short = priced(Usage(prompt_tokens=200_000, completion_tokens=1_000), pricing, latency_s=0)
    long = priced(Usage(prompt_tokens=200_001, completion_tokens=1_000), pricing, latency_s=0)
    assert short.total_price == Decimal("1.25") * 200_000 / MILLION + Decimal(10) * 1_000 / MILLION
    assert long.total_price == Decimal("2.50") * 200_001 / MILLION + Decimal(15) * 1_000 / MILLION
    assert long.input_unit_price == Decimal("2.50") / MILLION


def test_anthropic_cache_writes_are_priced_by_lifetime_and_reads_at_the_cache_rate() -> None:
    # Sonnet 5.5: input $2, cache hits $0.10, 5-minute writes 1.25x, 1-hour writes 2x (pricing page, 2026-12).
    usage = parse_usage(
        {
            "input_tokens": 1_000,
            "cache_read_input_tokens": 10_000,
            "cache_creation_input_tokens": 3_000,
            "cache_creation": {"ephemeral_5m_input_tokens": 1_000, "ephemeral_1h_input_tokens": 2_000},
            "output_tokens": 500,
        }
    )
    assert (usage.prompt_tokens, usage.cached_tokens, usage.cache_write_tokens, usage.cache_write_1h_tokens) == (
        14_000,
        10_000,
        3_000,
        2_000,
    )
    cost = priced(usage, pricing_of("anthropic", "claude-sonnet-5-5"), latency_s=0)
    expected_input = 1_000 * Decimal(2) + 10_000 * Decimal("0.10") + 1_000 * Decimal("2.5") + 2_000 * Decimal(4)
    assert cost.input_price == expected_input / MILLION
    assert cost.output_price == 500 * Decimal(10) / MILLION


def test_claude_haiku_55_over_100k_prompt_tokens_takes_its_long_context_tier_for_every_part() -> None:
    pricing = pricing_of("anthropic", "claude-haiku-5-5")
    usage = Usage(prompt_tokens=150_000, completion_tokens=100, cached_tokens=50_000, cache_write_tokens=10_000)
    cost = priced(usage, pricing, latency_s=0)
    expected = 90_000 * Decimal("0.50") + 50_000 * Decimal("0.05") + 10_000 * Decimal("0.625") + 100 * Decimal("2.50")
    assert cost.total_price == expected / MILLION


def test_a_zero_price_is_a_price_and_unset_rates_fall_back_to_the_input_rate() -> None:
    pricing = Pricing(input=Decimal(1), output=Decimal(2), cached_input=Decimal(0))
    usage = Usage(prompt_tokens=100, cached_tokens=40, cache_write_tokens=10, cache_write_1h_tokens=5)
    cost = priced(usage, pricing, latency_s=0)
    assert cost.input_price == (50 * Decimal(1) + 40 * Decimal(0) + 10 * Decimal(1)) / MILLION
