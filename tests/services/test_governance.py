"""The pieces of key policies on their own: reading a policy, budget periods, OpenAI's reset durations, the
in-process limiter, worst-case prices and amounts in micro-units."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import orjson
import pytest

from modelyard.catalog.loader import default_catalog
from modelyard.errors import InvalidRequestError
from modelyard.services.governance.headers import duration, rate_limit_headers
from modelyard.services.governance.local import LocalLimiter
from modelyard.services.governance.periods import meter_name, period_end, period_start
from modelyard.services.governance.plan import RateCheck, RateReading, SlotCheck
from modelyard.services.governance.policy import KeyPolicy, parse_key_policy, parse_limits, to_json
from modelyard.services.quota.budgets import from_units, to_units
from modelyard.services.quota.estimate import CallEstimate, worst_case_price
from modelyard.types import ChatRequest, EmbeddingRequest


@pytest.mark.parametrize(
    ("ms", "written"),
    [(0, "0s"), (20, "20ms"), (999, "999ms"), (1000, "1s"), (1500, "1.5s"), (360_000, "6m0s"), (3_723_500, "1h2m3.5s")],
)
def test_reset_durations_are_written_as_openai_writes_them(ms: int, written: str) -> None:
    assert duration(ms) == written


def test_headers_report_the_level_with_the_least_left() -> None:
    key = RateCheck("key", "key_1", "requests", 60, 1)
    workspace = RateCheck("workspace", "ws_1", "requests", 600, 1)
    tokens = RateCheck("key", "key_1", "tokens", 1000, 50)
    headers = dict(
        rate_limit_headers(
            [RateReading(workspace, 5, 600), RateReading(key, 40, 20_000), RateReading(tokens, 950, 3000)]
        )
    )
    assert headers == {
        b"x-ratelimit-limit-requests": b"600",
        b"x-ratelimit-remaining-requests": b"5",
        b"x-ratelimit-reset-requests": b"600ms",
        b"x-ratelimit-limit-tokens": b"1000",
        b"x-ratelimit-remaining-tokens": b"950",
        b"x-ratelimit-reset-tokens": b"3s",
    }


@pytest.mark.parametrize(
    ("window", "now", "start", "end"),
    [
        ("daily", datetime(2026, 12, 31, 23, 59, tzinfo=UTC), date(2026, 12, 31), datetime(2027, 1, 1, tzinfo=UTC)),
        ("weekly", datetime(2026, 12, 6, 12, tzinfo=UTC), date(2026, 11, 30), datetime(2026, 12, 7, tzinfo=UTC)),
        ("monthly", datetime(2027, 2, 28, 8, tzinfo=UTC), date(2027, 2, 1), datetime(2027, 3, 1, tzinfo=UTC)),
        ("monthly", datetime(2026, 12, 15, tzinfo=UTC), date(2026, 12, 1), datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_budget_periods_are_utc_days_iso_weeks_and_months(window, now, start, end) -> None:
    assert (period_start(window, now), period_end(window, now)) == (start, end)
    assert meter_name("key:key_1", window, now) == f"key:key_1:{window}:{start.isoformat()}"


def test_a_budget_that_never_resets_has_one_counter() -> None:
    now = datetime(2026, 12, 7, tzinfo=UTC)
    assert (period_start("none", now), period_end("none", now), meter_name("workspace", "none", now)) == (
        None,
        None,
        "workspace:none",
    )


@pytest.mark.parametrize(
    ("entries", "requested", "resolved", "allowed"),
    [
        (["openai/gpt-4.1"], "openai/gpt-4.1", "openai/gpt-4.1", True),
        (["openai/gpt-4.1"], "default", "openai/gpt-4.1", True),  # matched on what it resolved to
        (["openai/gpt-4.1"], "openai/gpt-4.1-mini", "openai/gpt-4.1-mini", False),
        (["openai/*"], "gpt-4.1", "openai/gpt-4.1", True),
        (["groq/*"], "groq/openai/gpt-oss-20b", "groq/openai/gpt-oss-20b", True),
        (["openai/*"], "groq/openai/gpt-oss-20b", "groq/openai/gpt-oss-20b", False),
        (["smart"], "smart", "anthropic/claude-opus-4-1", True),  # an alias name, as the caller asked for it
    ],
)
def test_allowed_models_match_the_requested_or_the_resolved_name(entries, requested, resolved, allowed) -> None:
    assert parse_key_policy({"allowed_models": entries}).allows(requested, resolved) is allowed


def test_a_policy_update_changes_only_the_fields_it_names() -> None:
    base = parse_key_policy({"requests_per_minute": 5, "budget": {"limit": "10", "window": "daily"}})
    changed = parse_key_policy({"tokens_per_minute": 900, "requests_per_minute": None}, base=base)
    assert (changed.requests_per_minute, changed.tokens_per_minute) == (None, 900)
    assert changed.budget == base.budget
    assert parse_key_policy({}) == KeyPolicy() and to_json(KeyPolicy()) is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"budget": {"limit": "5", "soft_limit": "6"}}, "budget.soft_limit"),
        ({"budget": {"limit": "-1"}}, "budget.limit"),
        ({"budget": {"limit": "1", "currency": "GBP"}}, "budget.currency"),
        ({"budget": {"limit": "1", "colour": "red"}}, "budget.colour"),
        ({"tokens_per_minute": True}, "tokens_per_minute"),
        ({"budget": "lots"}, "budget"),
    ],
)
def test_limits_refuse_bad_values_naming_the_field(data, field) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        parse_limits(data)
    assert refused.value.field == field


def test_a_policy_survives_its_stored_form_exactly() -> None:
    policy = parse_key_policy(
        {"allowed_models": ["a/*"], "budget": {"limit": "0.000002", "soft_limit": 0.000001, "currency": "EUR"}}
    )
    stored = to_json(policy)
    assert stored is not None and parse_key_policy(orjson.loads(stored)) == policy
    assert policy.budget is not None and policy.budget.limit == Decimal("0.000002")


def test_amounts_round_up_to_a_micro_unit_and_print_plainly() -> None:
    assert to_units(Decimal("0.0000001")) == 1 and to_units(Decimal("0.25")) == 250_000
    assert [str(from_units(units)) for units in (0, 20_000_000, 1_500_000, 1)] == ["0", "20", "1.5", "0.000001"]


def test_the_in_process_limiter_refills_continuously_and_frees_slots() -> None:
    now = [0.0]
    limiter = LocalLimiter(clock=lambda: now[0])
    rate = RateCheck("key", "key_1", "requests", 60, 1)  # one a second
    slot = SlotCheck("key", "key_1", 1)
    readings, refusal = limiter.admit("call-1", [rate], [slot])
    assert refusal is None and readings[0].remaining == 59
    _, busy = limiter.admit("call-2", [rate], [slot])
    assert busy is not None and busy.check == slot and busy.retry_after_ms == 1000
    limiter.finish("call-1", [], [slot])
    for _ in range(59):
        assert limiter.admit("call-3", [rate], [])[1] is None
    _, empty = limiter.admit("call-4", [rate], [])
    assert empty is not None and empty.retry_after_ms == 1000
    now[0] = 1.0
    assert limiter.admit("call-4", [rate], [])[1] is None


def test_worst_case_prices_take_max_tokens_or_the_output_limit_and_the_dearest_prompt_rate() -> None:
    model = default_catalog().get("deepseek").model("deepseek-flash", "llm")
    assert model is not None and model.pricing is not None
    bounded = CallEstimate(model, ChatRequest.user_text("Hi"))
    prompt = bounded.input_tokens
    unbounded_price = worst_case_price(bounded)
    limit = model.properties.max_output_tokens
    assert limit is not None and unbounded_price == (prompt * Decimal("0.15") + limit * Decimal("0.60")) / 10**6
    embedding = CallEstimate(
        default_catalog().get("openai").model("text-embedding-3-small", "text-embedding"),
        EmbeddingRequest(texts=("a b c",)),
    )
    assert worst_case_price(embedding) == embedding.input_tokens * Decimal("0.02") / 10**6
