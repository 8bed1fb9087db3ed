"""`modelyard quota show`: what is left of a workspace's hosted (system) provider quota."""

from __future__ import annotations

import click

from modelyard.cli.output import emit, json_option, table
from modelyard.cli.running import run, workspace_option


@click.group()
def quota() -> None:
    """Hosted provider quota."""


@quota.command("show")
@workspace_option
@json_option
def quota_show(workspace_id: str, as_json: bool) -> None:
    """Show the workspace's quota on each hosted provider."""
    statuses = run(lambda services: services.quota.status(workspace_id=workspace_id), workspace_id=workspace_id)
    rows = [
        (
            s.provider,
            s.quota_type,
            s.unit,
            "unlimited" if s.limit < 0 else s.limit,
            s.used,
            "unlimited" if s.remaining is None else s.remaining,
            "exhausted" if s.is_exhausted else "",
        )
        for s in statuses
    ]
    headers = ["provider", "quota", "unit", "limit", "used", "remaining", ""]
    empty = "No hosted providers (the operator's MODELYARD_HOSTED_CONFIG names none)."
    emit(statuses, as_json, text=lambda: table(rows, headers, empty=empty))
