"""`modelyard usage`: a workspace's calls, tokens and spend, summed per day, API key, provider and model."""

from __future__ import annotations

from datetime import date, datetime

import click

from modelyard.cli.output import emit, json_option, table
from modelyard.cli.running import run, workspace_option

GROUP_KEYS = ("day", "api_key", "provider", "model", "model_type")  # as in services/usage.py, which checks them again
_ATTRIBUTES = {"api_key": "api_key_id"}  # a group key whose total names it otherwise

_DAY = click.DateTime(formats=["%Y-%m-%d"])


def _group_keys(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    keys = tuple(key.strip() for key in value.split(",") if key.strip())
    unknown = [key for key in keys if key not in GROUP_KEYS]
    if unknown or not keys:
        raise click.BadParameter(f"a comma-separated list of {', '.join(GROUP_KEYS)}")
    return keys


@click.command("usage")
@workspace_option
@click.option("--since", type=_DAY, default=None, help="First day (UTC), YYYY-MM-DD.")
@click.option("--until", type=_DAY, default=None, help="Last day (UTC), YYYY-MM-DD.")
@click.option(
    "--group-by",
    default="day,provider,model",
    show_default=True,
    callback=_group_keys,
    help=f"Comma-separated keys: {', '.join(GROUP_KEYS)}.",
)
@json_option
def usage(
    workspace_id: str, since: datetime | None, until: datetime | None, group_by: tuple[str, ...], as_json: bool
) -> None:
    """Show the workspace's usage: calls, errors, tokens and price, per group."""
    totals = run(
        lambda services: services.usage.aggregate(
            workspace_id=workspace_id, since=_day(since), until=_day(until), group_by=group_by
        ),
        workspace_id=workspace_id,
    )
    rows = [
        (
            *(getattr(t, _ATTRIBUTES.get(key, key)) for key in group_by),
            t.calls,
            t.errors,
            t.prompt_tokens,
            t.completion_tokens,
            f"{t.total_price.normalize():f} {t.currency}",
        )
        for t in totals
    ]
    headers = [*group_by, "calls", "errors", "prompt tokens", "completion tokens", "price"]
    emit(totals, as_json, text=lambda: table(rows, headers, empty="No usage recorded."))


def _day(moment: datetime | None) -> date | None:
    return moment.date() if moment is not None else None
