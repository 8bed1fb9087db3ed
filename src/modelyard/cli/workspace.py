"""`modelyard workspace create | list | delete | rotate-keys`."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import click

from modelyard.cli.fields import credential_values, from_env_option
from modelyard.cli.output import emit, json_option, table
from modelyard.cli.running import run

if TYPE_CHECKING:
    from modelyard.services.context import Services
    from modelyard.services.credentials import CredentialView
    from modelyard.services.workspaces import WorkspaceView


@click.group()
def workspace() -> None:
    """Workspaces: each has its own providers, keys, models and quota."""


@workspace.command("create")
@click.argument("name")
@click.argument("fields", nargs=-1, metavar="[FIELD=VALUE]...")
@click.option("--api-key-name", metavar="NAME", default=None, help="Also create an API key so named (shown once).")
@click.option("--credential", "provider_id", metavar="PROVIDER", default=None, help="Also store PROVIDER's credential.")
@click.option("--credential-name", metavar="NAME", default=None, help="A name for that credential.")
@click.option("--no-validate", is_flag=True, help="Store the credential as unverified, without a test call upstream.")
@from_env_option
@json_option
def workspace_create(
    name: str,
    fields: tuple[str, ...],
    api_key_name: str | None,
    provider_id: str | None,
    credential_name: str | None,
    no_validate: bool,
    from_env: tuple[str, ...],
    as_json: bool,
) -> None:
    """Create a workspace (with its own key pair and the hosted trial quota), and for scripts its first API key and
    a provider credential in the same call.

    The credential's fields are given as in `credential set`: FIELD=VALUE, FIELD=- (read from stdin) or
    --from-env FIELD=VAR. All or nothing: when the credential is refused (its test call fails, a field is wrong),
    the workspace is removed again, so a script can fix the input and run the same command once more.

    \b
        modelyard workspace create "Acme"
        modelyard workspace create Acme --api-key-name ci --credential deepseek api_key=- --json < deepseek.key
    """
    if provider_id is None and (fields or from_env or credential_name or no_validate):
        raise click.UsageError("FIELD=VALUE, --from-env, --credential-name and --no-validate need --credential")
    if provider_id is not None and not (fields or from_env):
        raise click.UsageError("--credential needs the credential's fields: FIELD=VALUE, FIELD=- or --from-env")
    values = credential_values(fields, from_env) if provider_id is not None else {}

    async def create(services: Services) -> dict[str, Any]:
        created = await services.workspaces.create(name)
        try:
            return await _populate(services, created, values, provider_id, credential_name, api_key_name, no_validate)
        except Exception:
            # The error is what the user must see; a workspace that cannot be removed either shows in `list`.
            with contextlib.suppress(Exception):
                await services.workspaces.delete(created.id)
            raise

    data = run(create, may_create=True)
    emit(data, as_json, text=lambda: _created_text(data))


async def _populate(
    services: Services,
    created: WorkspaceView,
    values: dict[str, str],
    provider_id: str | None,
    credential_name: str | None,
    api_key_name: str | None,
    no_validate: bool,
) -> dict[str, Any]:
    """The new workspace's credential (first: it is the step that may be refused) and API key, as printed."""
    data: dict[str, Any] = {"id": created.id, "name": created.name}
    if provider_id is not None:
        credential: CredentialView = await services.credentials.create(
            workspace_id=created.id, provider=provider_id, values=values, name=credential_name, validate=not no_validate
        )
        data["credential"] = credential
    if api_key_name is not None:
        view, key = await services.api_keys.create(workspace_id=created.id, name=api_key_name)
        data["api_key"] = {"id": view.id, "name": view.name, "key": key}
    return data


def _created_text(data: dict[str, Any]) -> str:
    lines = [f"Created workspace {data['name']!r}: {data['id']}"]
    credential = data.get("credential")
    if credential is not None:
        lines.append(
            f"Saved {credential.provider} credential {credential.name!r} ({credential.status}): {credential.id}"
        )
    api_key = data.get("api_key")
    if api_key is not None:
        lines.append(f"Created API key {api_key['id']} ({api_key['name']}). It is shown only this once:")
        lines.append(api_key["key"])
    return "\n".join(lines)


@workspace.command("list")
@json_option
def workspace_list(as_json: bool) -> None:
    """List every workspace."""
    views = run(lambda services: services.workspaces.list())
    rows = [(w.id, w.name, w.created_at.date()) for w in views]
    emit(views, as_json, text=lambda: table(rows, ["id", "name", "created"], empty="No workspaces yet."))


@workspace.command("delete")
@click.argument("workspace_id", metavar="ID")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@json_option
def workspace_delete(workspace_id: str, yes: bool, as_json: bool) -> None:
    """Delete a workspace and everything in it (asks first; --yes skips the question)."""

    async def delete(services: Services) -> None:
        found = await services.workspaces.get(workspace_id)  # a mistyped id fails here, before any question
        if not yes:
            click.confirm(
                f"Delete the workspace {found.name!r} ({found.id}) with all its credentials, keys, models and usage?",
                abort=True,
            )
        await services.workspaces.delete(workspace_id)

    run(delete)
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
