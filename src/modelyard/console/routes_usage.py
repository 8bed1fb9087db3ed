"""/console/api/workspaces/{ws}/quota and /usage: hosted quota status, usage totals and records."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from modelyard.console.auth import Reader, State
from modelyard.console.views import QuotaOut, UsageOut, UsageRecordOut

router = APIRouter(tags=["usage"])
_GROUP_KEYS = "Comma-separated: day, api_key (the API key's id), provider, model, model_type"


@router.get("/workspaces/{ws}/quota", summary="The workspace's quota on each hosted provider")
async def quota(member: Reader, state: State) -> list[QuotaOut]:
    return [QuotaOut.model_validate(q) for q in await state.services.quota.status(workspace_id=member.workspace_id)]


@router.get("/workspaces/{ws}/usage", summary="Usage totals per group, days in UTC from since to until inclusive")
async def usage(
    member: Reader,
    state: State,
    since: date | None = None,
    until: date | None = None,
    group_by: Annotated[str, Query(max_length=100, description=_GROUP_KEYS)] = "day,provider,model",
) -> list[UsageOut]:
    keys = [key.strip() for key in group_by.split(",") if key.strip()]
    totals = await state.services.usage.aggregate(
        workspace_id=member.workspace_id, since=since, until=until, group_by=keys
    )
    return [UsageOut.model_validate(total) for total in totals]


@router.get("/workspaces/{ws}/usage/records", summary="Usage records, newest first")
async def usage_records(
    member: Reader,
    state: State,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=2**62, description="The last id seen: the next page")] = None,
) -> list[UsageRecordOut]:
    records = await state.services.usage.records(workspace_id=member.workspace_id, limit=limit, before_id=before_id)
    return [UsageRecordOut.model_validate(record) for record in records]
