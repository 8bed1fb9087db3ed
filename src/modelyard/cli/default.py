"""`modelyard default set | get | clear`: the model a workspace uses for `default`, per model type."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from modelyard.cli.output import emit, json_option, table
from modelyard.cli.provider import model_type_choice
from modelyard.cli.running import run, workspace_option
from modelyard.cli.targets import TARGET_METAVAR, split_target

if TYPE_CHECKING:
    from modelyard.services.context import Services
    from modelyard.services.defaults import DefaultModelView


@click.group()
def default() -> None:
    """Default models, one per model type."""


@default.command("set")
@workspace_option
@click.argument("model_type", metavar="TYPE", type=model_type_choice)
@click.argument("target", metavar=TARGET_METAVAR)
@click.argument("model_name", metavar="[MODEL]", required=False)
@json_option
def default_set(workspace_id: str, model_type: str, target: str, model_name: str | None, as_json: bool) -> None:
    """Choose the default model of a type; a model the workspace cannot call now is refused, saying why.

    \b
        modelyard default set --workspace ws_... llm deepseek/deepseek-chat
    """
    provider_id, model_id = split_target(target, model_name)
    chosen = run(
        lambda services: services.defaults.set(
            workspace_id=workspace_id, model_type=model_type, provider=provider_id, model=model_id
        ),
        workspace_id=workspace_id,
    )
    emit(chosen, as_json, text=f"Default {model_type} model: {provider_id}/{model_id}.")


@default.command("get")
@workspace_option
@click.argument("model_type", metavar="[TYPE]", type=model_type_choice, required=False)
@json_option
def default_get(workspace_id: str, model_type: str | None, as_json: bool) -> None:
    """Show the default model of one type, or of every type: chosen, automatic, or none usable."""
    if model_type is not None:
        view = run(
            lambda services: services.defaults.get(workspace_id=workspace_id, model_type=model_type),
            workspace_id=workspace_id,
        )
        emit(view, as_json, text=lambda: _table([view]))
        return
    views = run(lambda services: services.defaults.all(workspace_id=workspace_id), workspace_id=workspace_id)
    emit(views, as_json, text=lambda: _table(views))


@default.command("clear")
@workspace_option
@click.argument("model_type", metavar="TYPE", type=model_type_choice)
@json_option
def default_clear(workspace_id: str, model_type: str, as_json: bool) -> None:
    """Forget the chosen default of a type; the first usable model of that type serves from now on."""

    async def clear(services: Services) -> DefaultModelView:
        await services.defaults.clear(workspace_id=workspace_id, model_type=model_type)
        return await services.defaults.get(workspace_id=workspace_id, model_type=model_type)

    view = run(clear, workspace_id=workspace_id)
    emit(view, as_json, text=lambda: f"Cleared the chosen {model_type} default.\n{_table([view])}")


def _table(views: list[DefaultModelView]) -> str:
    rows = [
        (
            v.model_type,
            f"{v.provider}/{v.model}" if v.provider else None,
            v.source,
            v.is_available,
            v.reason or "",
        )
        for v in views
    ]
    return table(rows, ["type", "model", "source", "available", "note"], empty="")
