"""`modelyard usage`: a workspace's calls, tokens and spend, summed per day, API key, provider and model; and
`modelyard usage prune`: old usage records and ledger rows deleted, as the service does every hour."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import click

from modelyard.cli.output import emit, json_option, table
from modelyard.cli.running import run

if TYPE_CHECKING:
    from modelyard.services.retention import PruneReport

GROUP_KEYS = ("day", "api_key", "provider", "model", "model_type")  # as in services/usage.py, which checks them again
_ATTRIBUTES = {"api_key": "api_key_id"}  # a group key whose total names it otherwise

_DAY = click.DateTime(formats=["%Y-%m-%d"])


def _group_keys(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    keys = tuple(key.strip() for key in value.split(",") if key.strip())
    unknown = [key for key in keys if key not in GROUP_KEYS]
    if unknown or not keys:
        raise click.BadParameter(f"a comma-separated list of {', '.join(GROUP_KEYS)}")
    return keys


@click.group("usage", invoke_without_command=True)
@click.option(
    "--workspace",
    "workspace_id",
    default=None,  # required to show usage, not to prune
    metavar="ID",
    help="Workspace id (see `modelyard workspace list`).",
)
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
@click.pass_context
def usage(
    ctx: click.Context,
    workspace_id: str | None,
    since: datetime | None,
    until: datetime | None,
    group_by: tuple[str, ...],
    as_json: bool,
) -> None:
    """Show the workspace's usage: calls, errors, tokens and price, per group.

    The totals are read from daily sums kept after the records are pruned (`modelyard usage prune`).
    """
    if ctx.invoked_subcommand is not None:
        return
    if workspace_id is None:
        raise click.MissingParameter(ctx=ctx, param=next(p for p in ctx.command.params if p.name == "workspace_id"))
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


@usage.command("prune")
@click.option(
    "--before",
    type=_DAY,
    default=None,
    help="Prune usage records and ledger rows older than this day (UTC, YYYY-MM-DD) instead of the settings.",
)
@click.option("--dry-run", is_flag=True, help="Count what would be pruned; delete nothing.")
@json_option
def usage_prune(before: datetime | None, dry_run: bool, as_json: bool) -> None:
    """Delete usage records and ledger rows older than their retention, in short batches.

    MODELYARD_USAGE_RETENTION_DAYS (default 90) and MODELYARD_LEDGER_RETENTION_DAYS (default 400) say how long
    they are kept; the daily sums every usage view reads stay (MODELYARD_AGGREGATE_RETENTION_DAYS, default
    forever). Open reservations and a budget period still running keep their ledger rows; closed reservations are
    added to their counter's carried row, so quota and budgets spent stay exact. The service does this every hour.

    \b
        modelyard usage prune --dry-run
        modelyard usage prune --before 2026-01-01 --json
    """
    day = _day(before)
    if day is not None and day > datetime.now(UTC).date():
        raise click.BadParameter("is after today (UTC)", param_hint="'--before'")
    report = run(lambda services: services.retention.prune(before=day, dry_run=dry_run))
    emit(report, as_json, text=lambda: _prune_text(report))


def _prune_text(report: PruneReport) -> str:
    rows = [
        (
            pruned.table,
            "kept forever" if pruned.before is None else pruned.before.isoformat(timespec="seconds"),
            pruned.rows,
            pruned.batches,
            pruned.longest_batch_ms,
        )
        for pruned in report.tables
    ]
    rows_header = "would delete" if report.dry_run else "deleted"
    return table(rows, ["table", "older than", rows_header, "batches", "longest batch ms"], empty="")


def _day(moment: datetime | None) -> date | None:
    return moment.date() if moment is not None else None
