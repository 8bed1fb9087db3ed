"""Anthropic features a caller sets as plain parameters: thinking, its display and budget, task budgets, caching.

The console's parameter rules and OpenAI-shaped clients speak in scalars (`thinking: true`, `prompt_cache: "1h"`);
the Messages API wants objects, some behind a beta header. These parameters travel in a request's `extra`, and
this module turns them into their wire form (SDK types of `anthropic` 2.17.0, read 2026-12). A caller who sends
the wire object itself (`thinking: {...}`, `cache_control: {...}`) has it sent as given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from modelyard.errors import InvalidRequestError
from modelyard.types.chat import CacheTTL

THINKING = "thinking"  # true: thinking on (adaptive, or a budget on models that think by budget); false: off
THINKING_DISPLAY = "thinking_display"  # summarized | omitted: how thinking comes back (thinking.display)
THINKING_BUDGET = "thinking_budget"  # tokens of manual extended thinking (thinking.type enabled, >= 1024)
TASK_BUDGET = "task_budget"  # an advisory budget for a whole agentic loop (output_config.task_budget, >= 20000)
PROMPT_CACHE = "prompt_cache"  # 5m | 1h: cache the longest prefix (top-level cache_control, automatic caching)
NAMES = frozenset({THINKING, THINKING_DISPLAY, THINKING_BUDGET, TASK_BUDGET, PROMPT_CACHE})

# Task budgets are a public beta (docs: build-with-claude/task-budgets, read 2026-12).
TASK_BUDGETS_BETA = "task-budgets-2026-03-13"
_DISPLAYS = ("summarized", "omitted")
_TTLS = ("5m", "1h")

ThinkingStyle = Literal["adaptive", "budget"]


def cache_control(ttl: CacheTTL) -> dict[str, Any]:
    """A breakpoint's wire form; five minutes is the API's default lifetime, so only an hour is spelled out."""
    return {"type": "ephemeral", "ttl": "1h"} if ttl == "1h" else {"type": "ephemeral"}


def apply_options(
    extra: Mapping[str, Any],
    body: dict[str, Any],
    output_config: dict[str, Any],
    *,
    style: ThinkingStyle,
    default_budget: int,
) -> tuple[dict[str, Any], list[str]]:
    """Writes the option parameters of `extra` into `body` and `output_config`; returns the rest and the betas."""
    rest = {key: value for key, value in extra.items() if key not in NAMES}
    betas: list[str] = []
    thinking = _thinking(extra, style=style, default_budget=default_budget)
    if thinking is not None:
        body["thinking"] = thinking
    budget = extra.get(TASK_BUDGET)
    if budget is not None:
        output_config["task_budget"] = _task_budget(budget)
        betas.append(TASK_BUDGETS_BETA)
    ttl = extra.get(PROMPT_CACHE)
    if ttl is not None:
        if ttl not in _TTLS:
            raise InvalidRequestError(f"{PROMPT_CACHE} must be 5m or 1h, got {ttl!r}", field=PROMPT_CACHE)
        body["cache_control"] = cache_control(ttl)
    wire_config = rest.pop("output_config", None)  # a caller's own output_config object adds to ours
    if isinstance(wire_config, Mapping):
        output_config.update(wire_config)
    elif wire_config is not None:
        rest["output_config"] = wire_config
    return rest, betas


def _thinking(extra: Mapping[str, Any], *, style: ThinkingStyle, default_budget: int) -> dict[str, Any] | None:
    switch, display, budget = extra.get(THINKING), extra.get(THINKING_DISPLAY), extra.get(THINKING_BUDGET)
    if display is not None and display not in _DISPLAYS:
        raise InvalidRequestError(f"{THINKING_DISPLAY} must be summarized or omitted", field=THINKING_DISPLAY)
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int)):
        raise InvalidRequestError(f"{THINKING_BUDGET} must be a whole number of tokens", field=THINKING_BUDGET)
    if isinstance(switch, Mapping):  # the wire object itself
        wire = dict(switch)
    elif switch is False:
        return {"type": "disabled"}  # off: a display or budget has nothing to apply to
    elif switch is True or budget is not None or display is not None:
        if budget is not None or style == "budget":
            wire = {"type": "enabled", "budget_tokens": budget if budget is not None else default_budget}
        else:
            wire = {"type": "adaptive"}
    elif switch is None:
        return None
    else:
        raise InvalidRequestError(f"{THINKING} must be true, false or a thinking object", field=THINKING)
    if display is not None and wire.get("type") in ("adaptive", "enabled"):
        wire.setdefault("display", display)
    return wire


def _task_budget(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(f"{TASK_BUDGET} must be a whole number of tokens", field=TASK_BUDGET)
    return {"type": "tokens", "total": value}
