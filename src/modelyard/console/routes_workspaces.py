"""/console/api/workspaces: the workspaces themselves, their members, their API keys, limits and response cache."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response
from sqlalchemy import select

from modelyard.console.auth import Manager, Member, Owner, Reader, SignedIn, State
from modelyard.console.schemas import (
    ApiKeyBody,
    ApiKeyUpdateBody,
    LimitsBody,
    MemberBody,
    ResponseCacheBody,
    RoleBody,
    WorkspaceBody,
)
from modelyard.console.views import (
    ApiKeyCreatedOut,
    ApiKeyOut,
    BudgetOut,
    LimitsOut,
    MemberOut,
    ResponseCacheOut,
    WorkspaceOut,
)
from modelyard.errors import NotFoundError, PermissionDeniedError
from modelyard.services.accounts import AccountView, valid_email
from modelyard.services.api_keys import ApiKeyView
from modelyard.services.context import Services
from modelyard.services.governance import Limits
from modelyard.services.governance.status import BudgetStatus
from modelyard.store.tables import Account

router = APIRouter(tags=["workspaces"])
NO_CONTENT = 204


@router.get("/workspaces", summary="The workspaces the caller belongs to, with their role")
async def list_workspaces(principal: SignedIn, state: State) -> list[WorkspaceOut]:
    workspaces = await state.services.accounts.workspaces_of(principal.account_id)
    return [WorkspaceOut(id=w.id, name=w.name, role=w.role) for w in workspaces]


@router.post("/workspaces", status_code=201, summary="Create a workspace; the caller becomes its owner")
async def create_workspace(body: WorkspaceBody, principal: SignedIn, state: State) -> WorkspaceOut:
    workspace = await state.services.workspaces.create(body.name)
    await state.services.accounts.add_member(workspace_id=workspace.id, account_id=principal.account_id, role="owner")
    return WorkspaceOut(id=workspace.id, name=workspace.name, role="owner")


@router.patch("/workspaces/{ws}", summary="Rename a workspace (owner, admin)")
async def rename_workspace(body: WorkspaceBody, member: Manager, state: State) -> WorkspaceOut:
    workspace = await state.services.workspaces.rename(member.workspace_id, body.name)
    return WorkspaceOut(id=workspace.id, name=workspace.name, role=member.role)


@router.delete("/workspaces/{ws}", status_code=NO_CONTENT, summary="Delete a workspace and all it holds (owner)")
async def delete_workspace(member: Owner, state: State) -> Response:
    await state.services.workspaces.delete(member.workspace_id)
    return Response(status_code=NO_CONTENT)


# --- members --------------------------------------------------------------------------------------------------


@router.get("/workspaces/{ws}/members", tags=["members"], summary="The workspace's members")
async def list_members(member: Reader, state: State) -> list[MemberOut]:
    members = await state.services.accounts.members(workspace_id=member.workspace_id)
    return [MemberOut.model_validate(m) for m in members]


@router.post(
    "/workspaces/{ws}/members",
    status_code=201,
    tags=["members"],
    summary="Add an existing account, or create one when a password is given (owner, admin)",
)
async def add_member(body: MemberBody, member: Manager, state: State) -> MemberOut:
    _check_may_grant(member, body.role)
    services = state.services
    if body.password is not None:
        account = await services.accounts.create(email=body.email, password=body.password, name=body.name or "")
    else:
        account = await _account_by_email(services, body.email)
    added = await services.accounts.add_member(workspace_id=member.workspace_id, account_id=account.id, role=body.role)
    return MemberOut.model_validate(added)


@router.patch("/workspaces/{ws}/members/{account_id}", tags=["members"], summary="Change a member's role")
async def change_role(account_id: str, body: RoleBody, member: Manager, state: State) -> MemberOut:
    accounts = state.services.accounts
    current = await accounts.role_of(workspace_id=member.workspace_id, account_id=account_id)
    if current is None:
        raise NotFoundError(f"account {account_id!r} is not a member of this workspace")
    _check_may_grant(member, body.role, current)
    await accounts.set_role(workspace_id=member.workspace_id, account_id=account_id, role=body.role)
    for view in await accounts.members(workspace_id=member.workspace_id):
        if view.account_id == account_id:
            return MemberOut.model_validate(view)
    raise NotFoundError(f"account {account_id!r} is not a member of this workspace")  # removed meanwhile


@router.delete(
    "/workspaces/{ws}/members/{account_id}", status_code=NO_CONTENT, tags=["members"], summary="Remove a member"
)
async def remove_member(account_id: str, member: Manager, state: State) -> Response:
    accounts = state.services.accounts
    current = await accounts.role_of(workspace_id=member.workspace_id, account_id=account_id)
    if current is None:
        raise NotFoundError(f"account {account_id!r} is not a member of this workspace")
    _check_may_grant(member, "member", current)
    await accounts.remove_member(workspace_id=member.workspace_id, account_id=account_id)
    return Response(status_code=NO_CONTENT)


def _check_may_grant(member: Member, role: str, current: str | None = None) -> None:
    """Only an owner may make an owner, or change or remove one."""
    if "owner" in (role, current) and member.role != "owner":
        raise PermissionDeniedError("only an owner may grant the owner role or change an owner")


async def _account_by_email(services: Services, email: str) -> AccountView:
    # The account service finds accounts by id only; a console-side lookup by the unique email column.
    # A blank or malformed email is bad input (400 naming it), not an account that happens not to exist.
    async with services.db() as session:
        account_id = await session.scalar(select(Account.id).where(Account.email == valid_email(email)))
    if account_id is None:
        raise NotFoundError(f"no account has the email {email!r}; give a password to create it")
    return await services.accounts.get(account_id)


# --- API keys and limits ---------------------------------------------------------------------------------------


@router.get("/workspaces/{ws}/api-keys", tags=["api keys"], summary="The workspace's API keys (never the keys)")
async def list_api_keys(member: Manager, state: State) -> list[ApiKeyOut]:
    keys = await state.services.api_keys.list(workspace_id=member.workspace_id)
    return await api_keys_out(state.services, member.workspace_id, keys)


@router.post(
    "/workspaces/{ws}/api-keys",
    status_code=201,
    tags=["api keys"],
    summary="Create an API key (shown once), with any policy: allowed models, expiry, limits, budget",
)
async def create_api_key(body: ApiKeyBody, member: Manager, state: State) -> ApiKeyCreatedOut:
    view, key = await state.services.api_keys.create(
        workspace_id=member.workspace_id, name=body.name, created_by=member.account_id, policy=body.policy()
    )
    [shown] = await api_keys_out(state.services, member.workspace_id, [view])
    return ApiKeyCreatedOut.model_validate({**shown.model_dump(), "key": key})


@router.get("/workspaces/{ws}/api-keys/{key_id}", tags=["api keys"], summary="One API key, its policy and spend")
async def get_api_key(key_id: str, member: Manager, state: State) -> ApiKeyOut:
    view = await state.services.api_keys.get(workspace_id=member.workspace_id, key_id=key_id)
    return (await api_keys_out(state.services, member.workspace_id, [view]))[0]


@router.patch(
    "/workspaces/{ws}/api-keys/{key_id}",
    tags=["api keys"],
    summary="Rename a key or change its policy: fields left out stay, null removes a limit",
)
async def update_api_key(key_id: str, body: ApiKeyUpdateBody, member: Manager, state: State) -> ApiKeyOut:
    view = await state.services.api_keys.update(
        workspace_id=member.workspace_id, key_id=key_id, name=body.name, policy=body.policy()
    )
    return (await api_keys_out(state.services, member.workspace_id, [view]))[0]


@router.delete("/workspaces/{ws}/api-keys/{key_id}", status_code=NO_CONTENT, tags=["api keys"], summary="Revoke")
async def revoke_api_key(key_id: str, member: Manager, state: State) -> Response:
    await state.services.api_keys.revoke(workspace_id=member.workspace_id, key_id=key_id)
    return Response(status_code=NO_CONTENT)


@router.get("/workspaces/{ws}/limits", tags=["api keys"], summary="The workspace's own limits, and its budget's spend")
async def get_limits(member: Reader, state: State) -> LimitsOut:
    limits = await state.services.governor.policies.get(member.workspace_id)
    return await limits_out(state.services, member.workspace_id, limits)


@router.patch(
    "/workspaces/{ws}/limits",
    tags=["api keys"],
    summary="Set limits on the whole workspace (every call passes them and its key's): null removes one",
)
async def update_limits(body: LimitsBody, member: Manager, state: State) -> LimitsOut:
    limits = await state.services.governor.policies.update(member.workspace_id, body.model_dump(exclude_unset=True))
    return await limits_out(state.services, member.workspace_id, limits)


@router.get(
    "/workspaces/{ws}/response-cache", summary="How long the workspace's answers are kept (0: the cache is off)"
)
async def get_response_cache(member: Reader, state: State) -> ResponseCacheOut:
    return ResponseCacheOut(ttl_s=await state.services.response_cache.settings.ttl_s(member.workspace_id))


@router.put(
    "/workspaces/{ws}/response-cache",
    summary="Answer the workspace's identical calls from the cache for ttl_s seconds, or stop with 0 (owner, admin)",
)
async def set_response_cache(body: ResponseCacheBody, member: Manager, state: State) -> ResponseCacheOut:
    return ResponseCacheOut(ttl_s=await state.services.response_cache.settings.set(member.workspace_id, body.ttl_s))


async def api_keys_out(services: Services, workspace_id: str, keys: list[ApiKeyView]) -> list[ApiKeyOut]:
    budgets = [(f"key:{key.id}", key.policy.budget) for key in keys if key.policy.budget is not None]
    found = await services.governor.budgets(workspace_id, budgets)
    statuses = dict(zip([scope for scope, _ in budgets], found, strict=True))
    now = datetime.now(UTC)
    return [
        ApiKeyOut(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
            expires_at=key.policy.expires_at,
            is_expired=key.policy.expires_at is not None and key.policy.expires_at <= now,
            allowed_models=None if key.policy.allowed_models is None else list(key.policy.allowed_models),
            strict_params=key.policy.strict_params,
            cache_ttl_s=key.policy.cache_ttl_s,
            requests_per_minute=key.policy.requests_per_minute,
            tokens_per_minute=key.policy.tokens_per_minute,
            max_concurrent_requests=key.policy.max_concurrent_requests,
            budget=_budget_out(statuses.get(f"key:{key.id}")),
        )
        for key in keys
    ]


async def limits_out(services: Services, workspace_id: str, limits: Limits) -> LimitsOut:
    status = None
    if limits.budget is not None:
        [status] = await services.governor.budgets(workspace_id, [("workspace", limits.budget)])
    return LimitsOut(
        requests_per_minute=limits.requests_per_minute,
        tokens_per_minute=limits.tokens_per_minute,
        max_concurrent_requests=limits.max_concurrent_requests,
        budget=_budget_out(status),
    )


def _budget_out(status: BudgetStatus | None) -> BudgetOut | None:
    return None if status is None else BudgetOut.model_validate(status)
