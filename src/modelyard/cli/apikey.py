"""`modelyard apikey create | update | list | revoke`: the bearer keys apps send to the gateway, and their policy."""

from __future__ import annotations

from typing import Any

import click

from modelyard.cli.output import emit, json_option, table
from modelyard.cli.policy_options import describe_budget, describe_limits, key_options, key_policy_from
from modelyard.cli.running import run, workspace_option


@click.group()
def apikey() -> None:
    """Workspace API keys for the OpenAI-compatible gateway."""


@apikey.command("create")
@workspace_option
@click.option("--name", required=True, help="What the key is for (the service refuses a key without one).")
@key_options
@json_option
def apikey_create(workspace_id: str, name: str, as_json: bool, **options: Any) -> None:
    """Create a key, with any policy. It is printed once, now: only its hash is stored.

    \b
        export OPENAI_API_KEY=$(modelyard apikey create --workspace ws_... --name app --json | jq -r .key)
        modelyard apikey create --workspace ws_... --name batch --allow-model 'openai/*' \\
            --rpm 60 --tpm 100000 --max-concurrent 4 --budget 25 --budget-window monthly --budget-soft-limit 20
    """
    policy = key_policy_from(options)
    view, key = run(lambda services: services.api_keys.create(workspace_id=workspace_id, name=name, policy=policy))
    text = f"Created API key {view.id} ({view.name}). It is shown only this once:\n{key}"
    emit({"id": view.id, "key": key}, as_json, text=text)


@apikey.command("update")
@workspace_option
@click.argument("key_id", metavar="KEY_ID")
@click.option("--name", default=None, help="A new name.")
@key_options
@json_option
def apikey_update(workspace_id: str, key_id: str, name: str | None, as_json: bool, **options: Any) -> None:
    """Rename a key or change its policy; options left out keep their value, `none` removes a limit.

    \b
        modelyard apikey update --workspace ws_... key_... --rpm none --budget-soft-limit 40
    """

    async def update(services: Any) -> Any:
        current = await services.api_keys.get(workspace_id=workspace_id, key_id=key_id)
        budget = current.policy.budget
        base = (
            None
            if budget is None
            else {"limit": str(budget.limit), "currency": budget.currency, "window": budget.window}
        )
        if base is not None and budget.soft_limit is not None:
            base["soft_limit"] = str(budget.soft_limit)
        policy = key_policy_from(options, budget_base=base)
        return await services.api_keys.update(workspace_id=workspace_id, key_id=key_id, name=name, policy=policy)

    view = run(update, workspace_id=workspace_id)
    emit(view, as_json, text=f"Updated API key {view.id} ({view.name}).")


@apikey.command("list")
@workspace_option
@json_option
def apikey_list(workspace_id: str, as_json: bool) -> None:
    """List a workspace's keys (their prefixes, never the keys) and their policies."""
    views = run(lambda services: services.api_keys.list(workspace_id=workspace_id), workspace_id=workspace_id)
    rows = [
        (
            v.id,
            v.name,
            f"{v.prefix}...",
            v.created_at.date(),
            v.last_used_at,
            "revoked" if v.revoked_at else "active",
            ",".join(v.policy.allowed_models) if v.policy.allowed_models else "all",
            describe_limits(v.policy),
            describe_budget(v.policy.budget),
            v.policy.expires_at,
        )
        for v in views
    ]
    headers = ["id", "name", "prefix", "created", "last used", "state", "models", "limits", "budget", "expires"]
    emit(views, as_json, text=lambda: table(rows, headers, empty="No API keys."))


@apikey.command("revoke")
@workspace_option
@click.argument("key_id", metavar="KEY_ID")
@json_option
def apikey_revoke(workspace_id: str, key_id: str, as_json: bool) -> None:
    """Revoke a key: the gateway refuses it from now on."""
    view = run(lambda services: services.api_keys.revoke(workspace_id=workspace_id, key_id=key_id))
    emit(view, as_json, text=f"Revoked API key {view.id}.")
