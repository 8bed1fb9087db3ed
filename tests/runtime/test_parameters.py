from __future__ import annotations

import pytest

from modelyard.catalog.spec import ModelSpec, ParameterRule
from modelyard.errors import InvalidRequestError, UnsupportedFeatureError
from modelyard.runtime.parameters import apply_parameter_rules
from modelyard.types import ChatRequest, Message, ParameterAdjustment, ResponseFormat
from modelyard.types.chat import CHAT_PARAMETERS, NamedToolChoice

HI = (Message.user("Hi"),)


def model(*rules: ParameterRule) -> ModelSpec:
    return ModelSpec(id="m-1", type="llm", parameter_rules=rules)


def rule(name: str, **fields) -> ParameterRule:
    kind = fields.pop("type", "float")
    return ParameterRule(name=name, type=kind, **fields)


def test_a_value_the_rules_take_goes_as_given() -> None:
    request = ChatRequest(HI, temperature=0.5, max_tokens=10)
    sent, adjusted = apply_parameter_rules(model(rule("temperature", max=2), rule("max_tokens", type="int")), request)
    assert sent is request and adjusted == ()


def test_a_governed_parameter_the_model_does_not_list_is_dropped_and_reported() -> None:
    sent, adjusted = apply_parameter_rules(model(), ChatRequest(HI, temperature=0.5, stop=("END",)))
    assert (sent.temperature, sent.stop) == (None, ())
    assert adjusted == (
        ParameterAdjustment("temperature", "dropped", 0.5, None, "m-1 does not take it"),
        ParameterAdjustment("stop", "dropped", ["END"], None, "m-1 does not take it"),
    )


def test_a_number_out_of_range_is_clamped_by_default_and_reported() -> None:
    sent, adjusted = apply_parameter_rules(
        model(rule("max_tokens", type="int", min=1, max=4096)), ChatRequest(HI, max_tokens=100_000)
    )
    assert sent.max_tokens == 4096
    assert adjusted == (ParameterAdjustment("max_tokens", "clamped", 100_000, 4096, "m-1 takes 1..4096"),)


@pytest.mark.parametrize(("action", "expected"), [("drop", None), ("clamp", 1.0)])
def test_a_rules_action_decides_between_drop_and_clamp(action: str, expected: float | None) -> None:
    rules = model(rule("temperature", min=0, max=1, action=action))
    sent, adjusted = apply_parameter_rules(rules, ChatRequest(HI, temperature=1.7))
    assert sent.temperature == expected
    assert adjusted[0].action == ("dropped" if action == "drop" else "clamped")


def test_a_refusing_rule_raises_naming_the_parameter_and_model() -> None:
    rules = model(rule("temperature", min=0, max=1, action="refuse"))
    with pytest.raises(UnsupportedFeatureError) as caught:
        apply_parameter_rules(rules, ChatRequest(HI, temperature=1.7), provider="acme")
    assert caught.value.field == "temperature"
    assert str(caught.value).startswith("[acme] m-1 does not take temperature=1.7")


def test_a_fixed_parameter_is_never_sent_and_reported_only_when_it_differs() -> None:
    rules = model(rule("temperature", fixed=1.0))
    same, quiet = apply_parameter_rules(rules, ChatRequest(HI, temperature=1))
    other, reported = apply_parameter_rules(rules, ChatRequest(HI, temperature=0.2))
    assert same.temperature is None and quiet == ()
    assert other.temperature is None
    assert reported == (ParameterAdjustment("temperature", "dropped", 0.2, None, "fixed by the vendor at 1.0"),)


def test_an_option_the_model_does_not_take_is_refused() -> None:
    rules = model(rule("response_format", type="string", options=("text", "json_object")))
    with pytest.raises(UnsupportedFeatureError) as caught:
        apply_parameter_rules(rules, ChatRequest(HI, response_format=ResponseFormat("json_schema", schema={})))
    assert caught.value.field == "response_format"
    assert "takes text, json_object" in str(caught.value)


def test_tool_choice_is_checked_only_when_a_rule_names_it() -> None:
    named = ChatRequest(HI, tool_choice=NamedToolChoice("f"))
    assert apply_parameter_rules(model(), named)[1] == ()
    with pytest.raises(UnsupportedFeatureError) as caught:
        apply_parameter_rules(model(rule("tool_choice", type="string", options=("auto", "none"))), named)
    assert "tool_choice='named'" in str(caught.value)


def test_a_parameter_the_protocol_cannot_carry_is_dropped_even_when_the_model_lists_it() -> None:
    rules = model(rule("seed", type="int"))
    sent, adjusted = apply_parameter_rules(
        rules, ChatRequest(HI, seed=3, user="u-1"), CHAT_PARAMETERS - {"seed", "user"}
    )
    assert (sent.seed, sent.user) == (None, None)
    assert [(a.name, a.reason) for a in adjusted] == [
        ("seed", "the provider's API has no field for it"),
        ("user", "the provider's API has no field for it"),
    ]


def test_extras_go_as_given_unless_a_rule_names_them_or_the_wire_lacks_top_k() -> None:
    request = ChatRequest(HI, extra={"top_k": 900, "enable_search": True})
    listed, clamped = apply_parameter_rules(model(rule("top_k", type="int", min=1, max=500)), request)
    assert listed.extra == {"top_k": 500, "enable_search": True}
    assert clamped[0].name == "top_k"
    unlisted, nothing = apply_parameter_rules(model(), request)
    assert unlisted is request and nothing == ()
    refused, dropped = apply_parameter_rules(model(), request, CHAT_PARAMETERS - {"top_k"})
    assert refused.extra == {"enable_search": True} and dropped[0].name == "top_k"


def test_strict_mode_refuses_what_would_be_adjusted_naming_parameter_and_model() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        apply_parameter_rules(model(), ChatRequest(HI, temperature=0.5), provider="acme", strict=True)
    assert caught.value.field == "temperature"
    assert "[acme] m-1 does not take temperature=0.5" in str(caught.value)
    assert "strict" in str(caught.value)


def test_strict_mode_lets_through_what_the_rules_take_and_a_fixed_value_asked_for() -> None:
    rules = model(rule("temperature", fixed=1.0), rule("max_tokens", type="int", max=10))
    sent, adjusted = apply_parameter_rules(rules, ChatRequest(HI, temperature=1.0, max_tokens=5), strict=True)
    assert (sent.temperature, sent.max_tokens, adjusted) == (None, 5, ())


def test_a_number_of_the_wrong_type_is_an_invalid_request_naming_it() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        apply_parameter_rules(model(rule("top_p", min=0, max=1)), ChatRequest(HI, top_p="high"))  # type: ignore[arg-type]
    assert caught.value.field == "top_p"
