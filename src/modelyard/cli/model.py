"""`modelyard model add | list | enable | disable | remote`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from modelyard.cli.fields import credential_values, from_env_option
from modelyard.cli.output import emit, json_option, table
from modelyard.cli.provider import model_type_choice
from modelyard.cli.running import run, workspace_option
from modelyard.cli.targets import TARGET_METAVAR, model_type_of, split_target, takes_model_argument

if TYPE_CHECKING:
    from modelyard.services.context import Services
    from modelyard.services.models import ModelView


_TYPE_HELP = "The model's type; needed only when the provider has models of several types by this name."


@click.group()
def model() -> None:
    """The models a workspace can call."""


@model.command("add")
@click.argument("target", metavar=TARGET_METAVAR)
@click.argument("arguments", nargs=-1, metavar="[MODEL] FIELD=VALUE...")
@workspace_option
@click.option("--type", "model_type", type=model_type_choice, required=True, help="The model's type.")
@click.option("--no-validate", is_flag=True, help="Store as unverified, without a test call upstream.")
@from_env_option
@json_option
def model_add(
    target: str,
    arguments: tuple[str, ...],
    workspace_id: str,
    model_type: str,
    no_validate: bool,
    from_env: tuple[str, ...],
    as_json: bool,
) -> None:
    """Add a custom model to a provider that takes models by name (Ollama, OpenAI-API-compatible, ...).

    Secret fields take FIELD=- (stdin) or --from-env FIELD=VAR, as in `credential set`.

    \b
        modelyard model add --workspace ws_... ollama/llama3.3 --type llm base_url=http://127.0.0.1:11434
        modelyard model add --workspace ws_... ollama llama3.3 --type llm base_url=http://127.0.0.1:11434
    """
    if not takes_model_argument(target):
        (provider_id, model_name), fields = split_target(target, None), arguments
    elif arguments and "=" not in arguments[0]:
        (provider_id, model_name), fields = split_target(target, arguments[0]), arguments[1:]
    else:
        raise click.BadParameter("expected PROVIDER/MODEL or PROVIDER MODEL before the fields", param_hint="MODEL")
    values = credential_values(fields, from_env)
    added = run(
        lambda services: services.models.add_custom(
            workspace_id=workspace_id,
            provider=provider_id,
            model=model_name,
            model_type=model_type,
            values=values,
            validate=not no_validate,
        ),
        workspace_id=workspace_id,
    )
    text = f"Added {added.model_type} model {added.provider}/{added.model} ({added.status}): {added.id}"
    emit(added, as_json, text=text)


@model.command("list")
@workspace_option
@click.option("--provider", "provider_id", metavar="PROVIDER", default=None, help="Only this provider's models.")
@click.option("--type", "model_type", type=model_type_choice, default=None, help="Only models of this type.")
@click.option("--available", "only_available", is_flag=True, help="Only models that can be called now.")
@json_option
def model_list(
    workspace_id: str, provider_id: str | None, model_type: str | None, only_available: bool, as_json: bool
) -> None:
    """List the catalog's and the workspace's custom models, and whether each can be called now."""
    views = run(
        lambda services: services.models.list(workspace_id=workspace_id, provider=provider_id, model_type=model_type),
        workspace_id=workspace_id,
    )
    if only_available:
        views = [v for v in views if v.is_available]
    rows = [
        (
            f"{v.provider}/{v.model}",
            v.model_type,
            v.is_enabled,
            v.is_available,
            _deprecation(v),
            v.reason if not v.is_available else "",
        )
        for v in views
    ]
    headers = ["model", "type", "enabled", "available", "deprecated", "why not"]
    emit([_model(v) for v in views], as_json, text=lambda: table(rows, headers, empty="No models."))


@model.command("enable")
@workspace_option
@click.argument("target", metavar=TARGET_METAVAR)
@click.argument("model_name", metavar="[MODEL]", required=False)
@click.option("--type", "model_type", type=model_type_choice, default=None, help=_TYPE_HELP)
@json_option
def model_enable(workspace_id: str, target: str, model_name: str | None, model_type: str | None, as_json: bool) -> None:
    """Let the workspace call a model again.

    \b
        modelyard model enable --workspace ws_... deepseek/deepseek-chat
    """
    _switch(workspace_id, *split_target(target, model_name), model_type, enabled=True, as_json=as_json)


@model.command("disable")
@workspace_option
@click.argument("target", metavar=TARGET_METAVAR)
@click.argument("model_name", metavar="[MODEL]", required=False)
@click.option("--type", "model_type", type=model_type_choice, default=None, help=_TYPE_HELP)
@json_option
def model_disable(
    workspace_id: str, target: str, model_name: str | None, model_type: str | None, as_json: bool
) -> None:
    """Stop the workspace from calling a model (the gateway answers that it is disabled).

    \b
        modelyard model disable --workspace ws_... deepseek/deepseek-chat
    """
    _switch(workspace_id, *split_target(target, model_name), model_type, enabled=False, as_json=as_json)


@model.command("remote")
@workspace_option
@click.argument("provider_id", metavar="PROVIDER")
@json_option
def model_remote(workspace_id: str, provider_id: str, as_json: bool) -> None:
    """List the models the provider's own API offers for the workspace's credentials."""
    remote = run(
        lambda services: services.models.remote(workspace_id=workspace_id, provider=provider_id),
        workspace_id=workspace_id,
    )
    rows = [(m.id, m.owned_by) for m in remote]
    emit(remote, as_json, text=lambda: table(rows, ["id", "owned by"], empty="The provider lists no models."))


def _switch(
    workspace_id: str, provider_id: str, model_name: str, model_type: str | None, *, enabled: bool, as_json: bool
) -> None:
    async def switch(services: Services) -> str:
        kind = await model_type_of(
            services, workspace_id=workspace_id, provider=provider_id, model=model_name, model_type=model_type
        )
        await services.models.set_enabled(
            workspace_id=workspace_id, provider=provider_id, model=model_name, model_type=kind, enabled=enabled
        )
        return kind

    kind = run(switch, workspace_id=workspace_id)
    data = {"provider": provider_id, "model": model_name, "model_type": kind, "is_enabled": enabled}
    emit(data, as_json, text=f"{'Enabled' if enabled else 'Disabled'} {provider_id}/{model_name} ({kind}).")


def _model(view: ModelView) -> dict[str, Any]:
    return {
        "provider": view.provider,
        "model": view.model,
        "model_type": view.model_type,
        "label": view.spec.label.en_US if view.spec.label else view.model,
        "features": view.spec.features,
        "deprecated": view.is_deprecated,
        "shutdown_date": view.shutdown_date,
        "is_custom": view.is_custom,
        "is_enabled": view.is_enabled,
        "is_load_balanced": view.is_load_balanced,
        "is_available": view.is_available,
        "reason": view.reason,
        "provider_types": view.provider_types,
    }


def _deprecation(view: ModelView) -> str | None:
    """A deprecated model still works until its vendor shuts it down: say so, and when, beside its availability."""
    if not view.is_deprecated:
        return None
    return f"shuts down {view.shutdown_date}" if view.shutdown_date else "yes"
