"""`modelyard limits show | set`: limits on a whole workspace, which every call passes besides its key's."""

from __future__ import annotations

from typing import Any

import click

from modelyard.cli.output import emit, json_option
from modelyard.cli.policy_options import describe_budget, describe_limits, limit_options, limits_from
from modelyard.cli.running import run, workspace_option


@click.group()
def limits() -> None:
    """Rate, concurrency and budget limits on a whole workspace."""


@limits.command("show")
@workspace_option
@json_option
def limits_show(workspace_id: str, as_json: bool) -> None:
    """Show the workspace's limits and its budget's spend this period."""
    shown, policy = run(lambda services: _shown(services, workspace_id), workspace_id=workspace_id)
    emit(shown, as_json, text=lambda: _text(shown, policy))


@limits.command("set")
@workspace_option
@limit_options
@json_option
def limits_set(workspace_id: str, as_json: bool, **options: Any) -> None:
    """Change the workspace's limits; options left out keep their value, `none` removes a limit.

    \b
        modelyard limits set --workspace ws_... --rpm 600 --budget 500 --budget-window monthly
    """

    async def change(services: Any) -> tuple[dict[str, Any], Any]:
        policies = services.governor.policies
        budget = (await policies.get(workspace_id)).budget
        base = (
            None
            if budget is None
            else {"limit": str(budget.limit), "currency": budget.currency, "window": budget.window}
        )
        if base is not None and budget.soft_limit is not None:
            base["soft_limit"] = str(budget.soft_limit)
        await policies.update(workspace_id, limits_from(options, budget_base=base))
        return await _shown(services, workspace_id)

    shown, policy = run(change, workspace_id=workspace_id)
    emit(shown, as_json, text=lambda: _text(shown, policy))


async def _shown(services: Any, workspace_id: str) -> tuple[dict[str, Any], Any]:
    """What the JSON shows (the budget with its spend), and the limits as set, for the text."""
    current = await services.governor.policies.get(workspace_id)
    status = None
    if current.budget is not None:
        [status] = await services.governor.budgets(workspace_id, [("workspace", current.budget)])
    shown = {
        "requests_per_minute": current.requests_per_minute,
        "tokens_per_minute": current.tokens_per_minute,
        "max_concurrent_requests": current.max_concurrent_requests,
        "budget": status,
    }
    return shown, current


def _text(shown: dict[str, Any], policy: Any) -> str:
    status = shown["budget"]
    lines = [f"Limits: {describe_limits(policy)}", f"Budget: {describe_budget(policy.budget)}"]
    if status is not None:
        resets = f", resets {status.resets_at:%Y-%m-%d %H:%M} UTC" if status.resets_at else ""
        lines.append(f"Spent this period: {status.spent} of {status.limit} {status.currency}{resets}")
    return "\n".join(lines)
