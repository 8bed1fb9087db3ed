"""/console/api/workspaces/{ws}/aliases: model aliases, their targets in fallback order and each target's live state."""

from __future__ import annotations

from fastapi import APIRouter, Response

from modelyard.console.auth import Manager, Reader, State
from modelyard.console.schemas import AliasBody, AliasTargetBody, AliasUpdateBody
from modelyard.console.views import AliasOut
from modelyard.services.snapshot import AliasTarget

router = APIRouter(tags=["model aliases"])
NO_CONTENT = 204


@router.get("/workspaces/{ws}/aliases", summary="The workspace's model aliases, with their targets' live state")
async def list_aliases(member: Reader, state: State) -> list[AliasOut]:
    aliases = await state.services.aliases.list(workspace_id=member.workspace_id)
    return [AliasOut.model_validate(alias) for alias in aliases]


@router.get("/workspaces/{ws}/aliases/{name}", summary="One model alias")
async def get_alias(name: str, member: Reader, state: State) -> AliasOut:
    return AliasOut.model_validate(await state.services.aliases.get(workspace_id=member.workspace_id, name=name))


@router.post(
    "/workspaces/{ws}/aliases",
    status_code=201,
    summary="Make an alias: a name for ordered, weighted models with fallback (owner, admin)",
)
async def create_alias(body: AliasBody, member: Manager, state: State) -> AliasOut:
    alias = await state.services.aliases.create(
        workspace_id=member.workspace_id,
        name=body.name,
        model_type=body.model_type,
        targets=_targets(body.targets),
        max_attempts=body.max_attempts,
        max_time_s=body.max_time_s,
    )
    return AliasOut.model_validate(alias)


@router.patch("/workspaces/{ws}/aliases/{name}", summary="Change an alias's targets or budgets (owner, admin)")
async def update_alias(name: str, body: AliasUpdateBody, member: Manager, state: State) -> AliasOut:
    alias = await state.services.aliases.update(
        workspace_id=member.workspace_id,
        name=name,
        targets=None if body.targets is None else _targets(body.targets),
        max_attempts=body.max_attempts,
        max_time_s=body.max_time_s,
    )
    return AliasOut.model_validate(alias)


@router.delete("/workspaces/{ws}/aliases/{name}", status_code=NO_CONTENT, summary="Delete an alias (owner, admin)")
async def delete_alias(name: str, member: Manager, state: State) -> Response:
    await state.services.aliases.delete(workspace_id=member.workspace_id, name=name)
    return Response(status_code=NO_CONTENT)


def _targets(bodies: list[AliasTargetBody]) -> list[AliasTarget]:
    return [AliasTarget(body.provider, body.model, body.weight) for body in bodies]
