"""`modelyard alias set | list | show | delete`: a workspace's names for ordered, weighted models with fallback."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from modelyard.cli.output import emit, json_option, table
from modelyard.cli.provider import model_type_choice
from modelyard.cli.running import run, workspace_option

if TYPE_CHECKING:
    from modelyard.services.aliases import AliasView
    from modelyard.services.context import Services

TARGETS_METAVAR = "PROVIDER/MODEL[=WEIGHT]..."


@click.group()
def alias() -> None:
    """Model aliases: a name for ordered, weighted models, with fallback and retries."""


@alias.command("set")
@workspace_option
@click.argument("name")
@click.argument("targets", nargs=-1, required=True, metavar=TARGETS_METAVAR)
@click.option("--type", "model_type", type=model_type_choice, default=None, help="The calls it serves (llm when new).")
@click.option("--max-attempts", type=click.IntRange(1, 20), default=None, help="Attempts per call (3 when new).")
@click.option(
    "--max-time", "max_time_s", type=click.IntRange(1, 600), default=None, help="Seconds per call (30 when new)."
)
@json_option
def alias_set(
    workspace_id: str,
    name: str,
    targets: tuple[str, ...],
    model_type: str | None,
    max_attempts: int | None,
    max_time_s: int | None,
    as_json: bool,
) -> None:
    """Make an alias, or replace its models: first choice first, each with a weight (1 when left out; 0: only a
    fallback). Options left out keep their value.

    \b
        modelyard alias set --workspace ws_... smart deepseek/deepseek-flash=3 openai/gpt-5.4=1 \\
            anthropic/claude-sonnet-5=0
    """
    from modelyard.services.aliases import parse_targets

    parsed = parse_targets([_target(text) for text in targets])

    async def save(services: Services) -> AliasView:
        existing = {view.name: view for view in await services.aliases.list(workspace_id=workspace_id)}.get(name)
        if existing is None:
            return await services.aliases.create(
                workspace_id=workspace_id,
                name=name,
                targets=parsed,
                model_type=model_type or "llm",
                **_given(max_attempts=max_attempts, max_time_s=max_time_s),
            )
        if model_type is not None and model_type != existing.model_type:
            raise click.BadParameter(
                f"alias {name!r} serves {existing.model_type} calls; delete it to make one for {model_type}",
                param_hint="--type",
            )
        return await services.aliases.update(
            workspace_id=workspace_id, name=name, targets=parsed, max_attempts=max_attempts, max_time_s=max_time_s
        )

    view = run(save, workspace_id=workspace_id)
    emit(view, as_json, text=lambda: f"Alias {view.name} ({view.model_type}):\n{_targets_table(view)}")


@alias.command("list")
@workspace_option
@json_option
def alias_list(workspace_id: str, as_json: bool) -> None:
    """List the workspace's aliases and their models, first choice first."""
    views = run(lambda services: services.aliases.list(workspace_id=workspace_id), workspace_id=workspace_id)
    rows = [
        (v.name, v.model_type, ", ".join(f"{t.provider}/{t.model}={t.weight}" for t in v.targets), v.max_attempts,
         v.max_time_s)
        for v in views
    ]  # fmt: skip
    emit(
        views, as_json, text=lambda: table(rows, ["name", "type", "models", "attempts", "time_s"], empty="No aliases.")
    )


@alias.command("show")
@workspace_option
@click.argument("name")
@json_option
def alias_show(workspace_id: str, name: str, as_json: bool) -> None:
    """Show one alias: each model's weight, whether it can be called now, and any cool-down it is in."""
    view = run(lambda services: services.aliases.get(workspace_id=workspace_id, name=name), workspace_id=workspace_id)
    emit(view, as_json, text=lambda: _targets_table(view))


@alias.command("delete")
@workspace_option
@click.argument("name")
@json_option
def alias_delete(workspace_id: str, name: str, as_json: bool) -> None:
    """Delete an alias; calls that name it are refused from then on (404)."""
    run(lambda services: services.aliases.delete(workspace_id=workspace_id, name=name), workspace_id=workspace_id)
    emit({"name": name, "deleted": True}, as_json, text=f"Deleted alias {name}.")


def _target(text: str) -> dict[str, object]:
    """`provider/model` or `provider/model=weight` (a model id may hold `=` itself: only digits after it weigh)."""
    model, equals, weight = text.rpartition("=")
    if equals and weight.isdigit():
        return {"model": model, "weight": int(weight)}
    return {"model": text}


def _given(**values: int | None) -> dict[str, int]:
    return {name: value for name, value in values.items() if value is not None}


def _targets_table(view: AliasView) -> str:
    rows = [
        (
            f"{t.provider}/{t.model}",
            t.weight,
            t.is_available,
            f"{t.cooldown_remaining_s:.0f} s" if t.cooldown_remaining_s else "",
            t.reason or t.cooldown_reason or "",
        )
        for t in view.targets
    ]
    lines = table(rows, ["model", "weight", "available", "cooling", "note"], empty="")
    return f"{lines}\nAt most {view.max_attempts} attempts in {view.max_time_s} s per call."
