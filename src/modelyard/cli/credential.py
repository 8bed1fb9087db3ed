"""`modelyard credential set | list | activate | delete`: a workspace's own provider keys, sealed at rest."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from modelyard.cli.fields import credential_values, fields_argument, from_env_option
from modelyard.cli.output import emit, json_option, table
from modelyard.cli.running import run, workspace_option

if TYPE_CHECKING:
    from modelyard.services.context import Services
    from modelyard.services.credentials import CredentialView


@click.group()
def credential() -> None:
    """Provider credentials of a workspace (secrets are shown masked)."""


@credential.command("set")
@click.argument("provider_id", metavar="PROVIDER")
@fields_argument
@workspace_option
@click.option(
    "--name",
    default=None,
    help="Update the credential of this name, or add one so named.  [default: the active credential]",
)
@click.option("--no-validate", is_flag=True, help="Store as unverified, without a test call upstream.")
@from_env_option
@json_option
def credential_set(
    provider_id: str,
    fields: tuple[str, ...],
    workspace_id: str,
    name: str | None,
    no_validate: bool,
    from_env: tuple[str, ...],
    as_json: bool,
) -> None:
    """Store credentials for a provider in a workspace, after one test call.

    Without --name, this updates the provider's active credential in place, or adds the first one. With
    --name N, it updates the credential named N, or adds one named N beside the others (the first credential of
    a provider is its active one; `credential activate` makes another one active). An update changes only the
    fields given: the others, secrets included, keep their stored values.

    Keep keys out of shell history: FIELD=- reads that field from stdin (or asks for it, hidden, on a
    terminal), and --from-env FIELD=VAR reads it from an environment variable.

    \b
        modelyard credential set --workspace ws_... deepseek api_key=-  < deepseek.key
        modelyard credential set --workspace ws_... openai --from-env openai_api_key=OPENAI_API_KEY
    """
    values = credential_values(fields, from_env)

    async def save(services: Services) -> tuple[CredentialView, bool]:
        existing = await services.credentials.list(workspace_id=workspace_id, provider=provider_id)
        if name is None:
            target = next((c for c in existing if c.is_active), None)
        else:
            target = next((c for c in existing if c.name == name.strip()), None)
        if target is not None:
            updated = await services.credentials.update(
                workspace_id=workspace_id, credential_id=target.id, values=values, validate=not no_validate
            )
            return updated, False
        created = await services.credentials.create(
            workspace_id=workspace_id, provider=provider_id, values=values, name=name, validate=not no_validate
        )
        return created, True

    saved, is_new = run(save, workspace_id=workspace_id)
    verb = "Saved" if is_new else "Updated"
    emit(saved, as_json, text=f"{verb} {saved.provider} credential {saved.name!r} ({saved.status}): {saved.id}")


@credential.command("list")
@workspace_option
@click.option("--provider", "provider_id", metavar="PROVIDER", default=None, help="Only this provider's.")
@json_option
def credential_list(workspace_id: str, provider_id: str | None, as_json: bool) -> None:
    """List credentials with their secrets masked."""
    views = run(
        lambda services: services.credentials.list(workspace_id=workspace_id, provider=provider_id),
        workspace_id=workspace_id,
    )
    rows = [
        (v.id, v.provider, v.name, v.status, v.is_active, " ".join(f"{k}={val}" for k, val in v.values.items()))
        for v in views
    ]
    headers = ["id", "provider", "name", "status", "active", "values"]
    emit(views, as_json, text=lambda: table(rows, headers, empty="No credentials."))


@credential.command("activate")
@workspace_option
@click.argument("credential_id", metavar="CREDENTIAL_ID")
@json_option
def credential_activate(workspace_id: str, credential_id: str, as_json: bool) -> None:
    """Make a credential its provider's active one: the one calls use (a named one added later is not, until now).

    \b
        modelyard credential activate --workspace ws_... cred_...
    """
    view = run(
        lambda services: services.credentials.activate(workspace_id=workspace_id, credential_id=credential_id),
        workspace_id=workspace_id,
    )
    emit(view, as_json, text=f"Activated {view.provider} credential {view.name!r} ({view.status}): {view.id}")


@credential.command("delete")
@workspace_option
@click.argument("credential_id", metavar="CREDENTIAL_ID")
@json_option
def credential_delete(workspace_id: str, credential_id: str, as_json: bool) -> None:
    """Delete a credential; if it was the active one, the oldest remaining one takes over."""
    run(lambda services: services.credentials.delete(workspace_id=workspace_id, credential_id=credential_id))
    emit({"id": credential_id, "deleted": True}, as_json, text=f"Deleted credential {credential_id}.")
