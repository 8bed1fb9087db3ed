"""Parameter rules, enforced: what a model takes, applied to every chat call before its protocol builds it.

A catalog model's `parameter_rules` list the parameters it accepts, their ranges and options, and the ones the
vendor fixes. For every protocol and every face (library, gateway) the runtime applies them here: a governed
parameter the model does not list, or that its protocol has no field for, is dropped; a number out of range is
clamped (or dropped, or refused: the rule's `action`); a vendor-fixed parameter is never sent; an option the
model does not take is refused. Whatever changes is reported (`ChatResult.adjusted_params`, the gateway's
response headers). In strict mode each change is refused instead, with a 400 naming the parameter and the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from msgspec.structs import replace

from modelyard.catalog.spec import ModelSpec, ParameterRule
from modelyard.errors import InvalidRequestError, UnsupportedFeatureError
from modelyard.types import ChatRequest, ParameterAdjustment, ResponseFormat
from modelyard.types.chat import CHAT_PARAMETERS, NamedToolChoice

# A value of these is checked against the model's rules; one the rules do not list is dropped.
GOVERNED = (
    "temperature",
    "top_p",
    "max_tokens",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "reasoning_effort",
    "response_format",
)
# Vendor parameters in `extra` that a wire may not carry (OpenAI-shaped clients send top_k; Anthropic refuses it),
# dropped and reported unless the protocol's carried parameters name them (reasoning summaries: the Responses API's).
WIRE_EXTRAS = frozenset({"top_k", "reasoning_summary"})
# Checked against a rule when the model has one; without a rule the value goes as given.
RULED_WHEN_LISTED = ("tool_choice", "user", "parallel_tool_calls")
_NUMERIC = ("float", "int")
_EMPTY: Mapping[str, Any] = {"stop": ()}  # what a dropped parameter becomes when not None


def apply_parameter_rules(
    model: ModelSpec,
    request: ChatRequest,
    carried: frozenset[str] = CHAT_PARAMETERS,
    *,
    provider: str = "",
    strict: bool = False,
) -> tuple[ChatRequest, tuple[ParameterAdjustment, ...]]:
    """The request as the model takes it, and what changed; `carried` are the parameters its protocol can send.

    Raises UnsupportedFeatureError for a value the model refuses (an option it does not take, a rule whose action
    is `refuse`) and, in strict mode, InvalidRequestError for any adjustment; both name the parameter and model.
    """
    judge = _Judge(model, provider)
    rules = rules_of(model)
    changes: dict[str, Any] = {}
    for name in (*GOVERNED, *RULED_WHEN_LISTED):
        value = getattr(request, name)
        if value is None or value == ():
            continue
        rule = rules.get(name)
        kept: Any
        if name not in carried:
            kept = judge.drop(name, value, "the provider's API has no field for it")
        elif rule is None:
            kept = judge.drop(name, value, f"{model.id} does not take it") if name in GOVERNED else True
        else:
            kept = judge.check(rule, name, value)
        if kept is not True:
            changes[name] = _EMPTY.get(name) if kept is False else kept
    extra = _governed_extra(judge, rules, request.extra, carried)
    if extra is not None:
        changes["extra"] = extra
    if strict and judge.adjustments:
        first = judge.adjustments[0]
        raise InvalidRequestError(
            judge.where + f"{model.id} does not take {first.name}={first.requested!r} ({first.reason}); "
            "strict parameter mode refuses instead of adjusting",
            field=first.name,
        )
    return (replace(request, **changes) if changes else request), tuple(judge.adjustments)


_compiled: dict[int, tuple[ModelSpec, Mapping[str, ParameterRule]]] = {}  # the entry keeps its model alive


def rules_of(model: ModelSpec) -> Mapping[str, ParameterRule]:
    """The model's rules by parameter name, compiled once per model."""
    entry = _compiled.get(id(model))
    if entry is None or entry[0] is not model:
        if len(_compiled) > 8192:  # custom models are made per credential set: keep the table bounded
            _compiled.clear()
        entry = _compiled[id(model)] = (model, {rule.name: rule for rule in model.parameter_rules})
    return entry[1]


class _Judge:
    """Decides one parameter at a time: True to send as given, False to drop, or the value to send instead."""

    def __init__(self, model: ModelSpec, provider: str) -> None:
        self.model = model
        self.where = f"[{provider}] " if provider else ""
        self.adjustments: list[ParameterAdjustment] = []

    def check(self, rule: ParameterRule, name: str, value: Any) -> Any:
        if rule.fixed is not None:
            # Never sent, so the vendor applies its own value; reported only when the caller asked for another.
            if _key(value) != _key(rule.fixed):
                self.drop(name, value, f"fixed by the vendor at {rule.fixed}")
            return False
        if rule.options and _key(value) not in rule.options:
            return self.act(rule, name, value, f"{self.model.id} takes {', '.join(rule.options)}", default="refuse")
        if rule.type in _NUMERIC and (rule.min is not None or rule.max is not None):
            number = _number(name, value)
            low = rule.min if rule.min is not None else number
            high = rule.max if rule.max is not None else number
            if not low <= number <= high:
                bounded = min(max(number, low), high)
                sent = int(bounded) if rule.type == "int" else bounded
                return self.act(rule, name, value, f"{self.model.id} takes {_range(rule)}", clamped=sent)
        return True

    def act(
        self, rule: ParameterRule, name: str, value: Any, reason: str, *, clamped: Any = None, default: str = ""
    ) -> Any:
        action = rule.action or default or ("clamp" if clamped is not None else "drop")
        if action == "refuse":
            raise UnsupportedFeatureError(
                f"{self.where}{self.model.id} does not take {name}={_plain_value(value)!r}: {reason}", field=name
            )
        if action == "clamp" and clamped is not None:
            self.adjustments.append(ParameterAdjustment(name, "clamped", _plain_value(value), clamped, reason))
            return clamped
        return self.drop(name, value, reason)

    def drop(self, name: str, value: Any, reason: str) -> Literal[False]:
        self.adjustments.append(ParameterAdjustment(name, "dropped", _plain_value(value), None, reason))
        return False


def _governed_extra(
    judge: _Judge, rules: Mapping[str, ParameterRule], extra: Mapping[str, Any], carried: frozenset[str]
) -> dict[str, Any] | None:
    """Vendor parameters in `extra` go as given, except one a rule names (judged by it) or the wire cannot carry."""
    governed = [key for key in extra if key in rules or (key in WIRE_EXTRAS and key not in carried)]
    if not governed:
        return None
    kept = dict(extra)
    for key in governed:
        rule = rules.get(key)
        if rule is None or (key in WIRE_EXTRAS and key not in carried):  # a wire extra the wire cannot carry
            verdict: Any = judge.drop(key, extra[key], "the provider's API has no field for it")
        else:
            verdict = judge.check(rule, key, extra[key])
        if verdict is False:
            del kept[key]
        elif verdict is not True:
            kept[key] = verdict
    return kept


def _key(value: Any) -> Any:
    """The word or number a rule's options and fixed value compare with."""
    if isinstance(value, ResponseFormat):
        return value.type
    if isinstance(value, NamedToolChoice):
        return "named"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return float(value)


def _plain_value(value: Any) -> Any:
    """A JSON-friendly form of the caller's value, for reports and headers."""
    if isinstance(value, ResponseFormat | NamedToolChoice):
        return _key(value)
    return list(value) if isinstance(value, tuple) else value


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequestError(f"{name} must be a number, got {value!r}", field=name)
    return float(value)


def _range(rule: ParameterRule) -> str:
    def plain(bound: float | None) -> str:
        return "" if bound is None else (str(int(bound)) if bound == int(bound) else str(bound))

    return f"{plain(rule.min)}..{plain(rule.max)}"
