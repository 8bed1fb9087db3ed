"""Command-line options for a key's policy or a workspace's limits, read into the mapping the services take.

An option left out changes nothing; `none` (or a `--no-...` flag) removes a limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from modelyard.services.governance.policy import CURRENCIES, WINDOWS

_Command = TypeVar("_Command", bound=Callable[..., Any])
_NONE = "none"


def _count_or_none(_ctx: click.Context, param: click.Parameter, value: str | None) -> int | str | None:
    if value is None:
        return None
    if value.strip().lower() == _NONE:
        return _NONE
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter("a whole number, or 'none' to remove the limit", param=param) from None


def limit_options(command: _Command) -> _Command:
    """--rpm, --tpm, --max-concurrent and the budget's options: what a key and a workspace both take."""
    options = [
        click.option("--rpm", callback=_count_or_none, metavar="N|none", help="Requests per minute."),
        click.option(
            "--tpm", callback=_count_or_none, metavar="N|none", help="Tokens per minute (prompt + max_tokens)."
        ),
        click.option("--max-concurrent", callback=_count_or_none, metavar="N|none", help="Requests in flight at once."),
        click.option("--budget", metavar="AMOUNT|none", help='Spend budget, e.g. "25.00"; none removes it.'),
        click.option("--budget-currency", type=click.Choice(CURRENCIES), help="The budget's currency (default USD)."),
        click.option(
            "--budget-window", type=click.Choice(WINDOWS), help="When the budget resets, in UTC (default none)."
        ),
        click.option("--budget-soft-limit", metavar="AMOUNT", help="Spend past which answers and the console warn."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def key_options(command: _Command) -> _Command:
    """The limits, plus what only a key has: allowed models, expiry, strict parameters, the response cache."""
    options = [
        click.option(
            "--allow-model",
            "allowed_models",
            multiple=True,
            metavar="MODEL",
            help="A model the key may call: provider/model, provider/*, or an alias (repeat it); default: every model.",
        ),
        click.option("--all-models", is_flag=True, help="Allow every model again."),
        click.option("--expires-at", metavar="TIME|none", help="ISO 8601 with a zone, e.g. 2027-01-31T00:00:00Z."),
        click.option(
            "--strict-params/--lenient-params",
            default=None,
            help="Refuse a parameter the model does not take, instead of dropping it.",
        ),
        click.option(
            "--cache-ttl",
            metavar="SECONDS|none",
            help="Answer the key's identical calls from the response cache for this long (0: never); none: as the "
            "workspace does.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return limit_options(command)


def limits_from(options: dict[str, Any], *, budget_base: dict[str, object] | None = None) -> dict[str, object]:
    """The policy fields the options set. Budget options other than --budget change the current budget
    (`budget_base`), which must then exist."""
    changes: dict[str, object] = {}
    for option, field in (
        ("rpm", "requests_per_minute"),
        ("tpm", "tokens_per_minute"),
        ("max_concurrent", "max_concurrent_requests"),
    ):
        value = options.get(option)
        if value is not None:
            changes[field] = None if value == _NONE else value
    amount = options.get("budget")
    details = {
        name: options.get(f"budget_{name}")
        for name in ("currency", "window", "soft_limit")
        if options.get(f"budget_{name}") is not None
    }
    if amount is not None and amount.strip().lower() == _NONE:
        changes["budget"] = None
    elif amount is not None or details:
        base = dict(budget_base or {})
        if amount is None and not base:
            raise click.UsageError(
                "give --budget AMOUNT: there is no budget yet for the other budget options to change"
            )
        changes["budget"] = {**base, **({"limit": amount} if amount is not None else {}), **details}
    return changes


def key_policy_from(options: dict[str, Any], *, budget_base: dict[str, object] | None = None) -> dict[str, object]:
    changes = limits_from(options, budget_base=budget_base)
    if options.get("all_models"):
        if options.get("allowed_models"):
            raise click.UsageError("--all-models and --allow-model contradict each other")
        changes["allowed_models"] = None
    elif options.get("allowed_models"):
        changes["allowed_models"] = list(options["allowed_models"])
    expires = options.get("expires_at")
    if expires is not None:
        changes["expires_at"] = None if expires.strip().lower() == _NONE else expires
    if options.get("strict_params") is not None:
        changes["strict_params"] = options["strict_params"]
    cache_ttl = options.get("cache_ttl")
    if cache_ttl is not None:
        changes["cache_ttl_s"] = None if cache_ttl.strip().lower() == _NONE else cache_ttl
    return changes


def describe_limits(policy: Any) -> str:
    """`60 rpm, 100000 tpm, 4 concurrent`, or `-`."""
    parts = []
    if policy.requests_per_minute is not None:
        parts.append(f"{policy.requests_per_minute} rpm")
    if policy.tokens_per_minute is not None:
        parts.append(f"{policy.tokens_per_minute} tpm")
    if policy.max_concurrent_requests is not None:
        parts.append(f"{policy.max_concurrent_requests} concurrent")
    return ", ".join(parts) or "-"


def describe_budget(budget: Any) -> str:
    if budget is None:
        return "-"
    window = "" if budget.window == "none" else f" {budget.window}"
    soft = "" if budget.soft_limit is None else f" (soft {budget.soft_limit})"
    return f"{budget.limit} {budget.currency}{window}{soft}"
