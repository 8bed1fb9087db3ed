"""/console/api/workspaces/{ws}/load-balancing: several credential sets for one model, with their live state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from modelyard.console.auth import Manager, Reader, State
from modelyard.console.schemas import PoolEntryBody, PoolEntryUpdateBody
from modelyard.console.views import PoolEntryOut
from modelyard.types.model_type import ModelType

router = APIRouter(tags=["load balancing"])
NO_CONTENT = 204


@router.get("/workspaces/{ws}/load-balancing", summary="A model's load-balancing entries and their live state")
async def list_entries(
    member: Reader,
    state: State,
    provider: Annotated[str, Query(min_length=1, max_length=64)],
    model: Annotated[str, Query(min_length=1, max_length=255)],
    model_type: ModelType = "llm",
) -> list[PoolEntryOut]:
    state.services.catalog.get(provider)  # an unknown provider is a 404, not an empty list
    entries = await state.services.pools.list(
        workspace_id=member.workspace_id, provider=provider, model=model, model_type=model_type
    )
    return [PoolEntryOut.model_validate(entry) for entry in entries]


@router.post(
    "/workspaces/{ws}/load-balancing",
    status_code=201,
    summary="Add an entry: its own values, or one of the provider's credentials (owner, admin)",
)
async def add_entry(body: PoolEntryBody, member: Manager, state: State) -> PoolEntryOut:
    entry = await state.services.pools.add(
        workspace_id=member.workspace_id,
        provider=body.provider,
        model=body.model,
        model_type=body.model_type,
        name=body.name,
        weight=body.weight,
        values=body.values,
        credential_id=body.credential_id,
        validate=body.should_validate,
    )
    return PoolEntryOut.model_validate(entry)


@router.patch("/workspaces/{ws}/load-balancing/{entry_id}", summary="Change an entry (owner, admin)")
async def update_entry(entry_id: str, body: PoolEntryUpdateBody, member: Manager, state: State) -> PoolEntryOut:
    entry = await state.services.pools.update(
        workspace_id=member.workspace_id,
        entry_id=entry_id,
        name=body.name,
        weight=body.weight,
        enabled=body.enabled,
        values=body.values,
        validate=body.should_validate,
    )
    return PoolEntryOut.model_validate(entry)


@router.delete("/workspaces/{ws}/load-balancing/{entry_id}", status_code=NO_CONTENT, summary="Delete an entry")
async def delete_entry(entry_id: str, member: Manager, state: State) -> Response:
    await state.services.pools.delete(workspace_id=member.workspace_id, entry_id=entry_id)
    return Response(status_code=NO_CONTENT)


@router.post(
    "/workspaces/{ws}/load-balancing/{entry_id}/validate",
    summary="Check an entry again; a verified entry the balancer took out comes back (owner, admin)",
)
async def validate_entry(entry_id: str, member: Manager, state: State) -> PoolEntryOut:
    entry = await state.services.pools.validate(workspace_id=member.workspace_id, entry_id=entry_id)
    return PoolEntryOut.model_validate(entry)
