"""`modelyard apikey create | list | revoke`: the bearer keys apps send to the gateway."""

from __future__ import annotations

import click

from modelyard.cli.output import emit, json_option, table
from modelyard.cli.running import run, workspace_option


@click.group()
def apikey() -> None:
    """Workspace API keys for the OpenAI-compatible gateway."""


@apikey.command("create")
@workspace_option
@click.option("--name", default="", help="What the key is for.")
@json_option
def apikey_create(workspace_id: str, name: str, as_json: bool) -> None:
    """Create a key. It is printed once, now: only its hash is stored.

    \b
        export OPENAI_API_KEY=$(modelyard apikey create --workspace ws_... --json | jq -r .key)
    """
    view, key = run(lambda services: services.api_keys.create(workspace_id=workspace_id, name=name))
    text = f"Created API key {view.id}{f' ({view.name})' if view.name else ''}. It is shown only this once:\n{key}"
    emit({"id": view.id, "key": key}, as_json, text=text)


@apikey.command("list")
@workspace_option
@json_option
def apikey_list(workspace_id: str, as_json: bool) -> None:
    """List a workspace's keys (their prefixes, never the keys)."""
    views = run(lambda services: services.api_keys.list(workspace_id=workspace_id), workspace_id=workspace_id)
    rows = [
        (v.id, v.name, f"{v.prefix}...", v.created_at.date(), v.last_used_at, "revoked" if v.revoked_at else "active")
        for v in views
    ]
    headers = ["id", "name", "prefix", "created", "last used", "state"]
    emit(views, as_json, text=lambda: table(rows, headers, empty="No API keys."))


@apikey.command("revoke")
@workspace_option
@click.argument("key_id", metavar="KEY_ID")
@json_option
def apikey_revoke(workspace_id: str, key_id: str, as_json: bool) -> None:
    """Revoke a key: the gateway refuses it from now on."""
    view = run(lambda services: services.api_keys.revoke(workspace_id=workspace_id, key_id=key_id))
    emit(view, as_json, text=f"Revoked API key {view.id}.")
