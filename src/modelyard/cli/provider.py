"""`modelyard provider list`: the catalog, or the providers as one workspace sees them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from modelyard.cli.output import emit, json_option, table
from modelyard.cli.running import run
from modelyard.types.model_type import MODEL_TYPES

model_type_choice = click.Choice(MODEL_TYPES)
if TYPE_CHECKING:
    from modelyard.catalog.spec import ProviderSpec
    from modelyard.services.providers import ProviderView


@click.group()
def provider() -> None:
    """Model providers."""


@provider.command("list")
@click.option("--workspace", "workspace_id", metavar="ID", default=None, help="Show this workspace's configuration.")
@click.option("--type", "model_type", type=model_type_choice, default=None, help="Only providers of this model type.")
@json_option
def provider_list(workspace_id: str | None, model_type: str | None, as_json: bool) -> None:
    """List providers; with --workspace, whether each is configured and which type calls use."""
    if workspace_id is None:
        from modelyard.catalog.loader import default_catalog  # here: only this listing reads the catalog itself

        specs = [s for s in default_catalog() if model_type is None or model_type in s.supported_model_types]
        catalog_rows = [(s.id, s.label.en_US, s.supported_model_types, s.configuration_methods) for s in specs]
        headers = ["id", "name", "model types", "configuration"]
        emit([_spec(s) for s in specs], as_json, text=lambda: table(catalog_rows, headers, empty="No providers."))
        return
    views = run(
        lambda services: services.providers.list(workspace_id=workspace_id, model_type=model_type),
        workspace_id=workspace_id,
    )
    rows = [
        (v.spec.id, v.spec.label.en_US, v.credential_status if v.has_custom else None, v.has_system, v.resolved_type)
        for v in views
    ]
    headers = ["id", "name", "own credentials", "hosted", "calls use"]
    emit([_view(v) for v in views], as_json, text=lambda: table(rows, headers, empty="No providers."))


def _spec(spec: ProviderSpec) -> dict[str, Any]:
    return {
        "id": spec.id,
        "label": spec.label.en_US,
        "supported_model_types": spec.supported_model_types,
        "configuration_methods": spec.configuration_methods,
    }


def _view(view: ProviderView) -> dict[str, Any]:
    return _spec(view.spec) | {
        "has_custom": view.has_custom,
        "credential_status": view.credential_status,
        "has_system": view.has_system,
        "preferred_type": view.preferred_type,
        "resolved_type": view.resolved_type,
        "custom_model_count": view.custom_model_count,
    }
