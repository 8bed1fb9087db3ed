"""`modelyard workspace create | list | delete`."""

from __future__ import annotations

import click

from modelyard.cli.output import emit, json_option, table
from modelyard.cli.running import run


@click.group()
def workspace() -> None:
    """Workspaces: each has its own providers, keys, models and quota."""


@workspace.command("create")
@click.argument("name")
@json_option
def workspace_create(name: str, as_json: bool) -> None:
    """Create a workspace (with its own key pair and the hosted trial quota).

    \b
        modelyard workspace create "Acme"
    """
    created = run(lambda services: services.workspaces.create(name), may_create=True)
    emit({"id": created.id, "name": created.name}, as_json, text=f"Created workspace {created.name!r}: {created.id}")


@workspace.command("list")
@json_option
def workspace_list(as_json: bool) -> None:
    """List every workspace."""
    views = run(lambda services: services.workspaces.list())
    rows = [(w.id, w.name, w.created_at.date()) for w in views]
    emit(views, as_json, text=lambda: table(rows, ["id", "name", "created"], empty="No workspaces yet."))


@workspace.command("delete")
@click.argument("workspace_id", metavar="ID")
@click.confirmation_option(prompt="Delete the workspace with all its credentials, keys, models and usage?")
@json_option
def workspace_delete(workspace_id: str, as_json: bool) -> None:
    """Delete a workspace and everything in it (asks first; --yes skips the question)."""
    run(lambda services: services.workspaces.delete(workspace_id))
    emit({"id": workspace_id, "deleted": True}, as_json, text=f"Deleted workspace {workspace_id}.")


@workspace.command("rotate-keys")
@click.option("--workspace", "workspace_id", required=True, help="Workspace id.")
@json_option
def workspace_rotate_keys(workspace_id: str, as_json: bool) -> None:
    """Make a new key pair for the workspace and re-seal every one of its secrets with it.

    \b
        modelyard workspace rotate-keys --workspace ws_1
    """
    key_id = run(lambda services: services.workspaces.rotate_keys(workspace_id))
    emit({"id": workspace_id, "key_id": key_id}, as_json, text=f"Rotated the keys of {workspace_id}: now {key_id}.")
