"""/console/api/workspaces: the workspaces themselves, their members and their API keys."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import select

from modelyard.console.auth import Manager, Member, Owner, Reader, SignedIn, State
from modelyard.console.schemas import ApiKeyBody, MemberBody, RoleBody, WorkspaceBody
from modelyard.console.views import ApiKeyCreatedOut, ApiKeyOut, MemberOut, WorkspaceOut
from modelyard.errors import NotFoundError, PermissionDeniedError
from modelyard.services.accounts import AccountView, valid_email
from modelyard.services.context import Services
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


# --- API keys -------------------------------------------------------------------------------------------------


@router.get("/workspaces/{ws}/api-keys", tags=["api keys"], summary="The workspace's API keys (never the keys)")
async def list_api_keys(member: Manager, state: State) -> list[ApiKeyOut]:
    keys = await state.services.api_keys.list(workspace_id=member.workspace_id)
    return [ApiKeyOut.model_validate(key) for key in keys]


@router.post("/workspaces/{ws}/api-keys", status_code=201, tags=["api keys"], summary="Create an API key (shown once)")
async def create_api_key(body: ApiKeyBody, member: Manager, state: State) -> ApiKeyCreatedOut:
    view, key = await state.services.api_keys.create(
        workspace_id=member.workspace_id, name=body.name, created_by=member.account_id
    )
    return ApiKeyCreatedOut.model_validate({**ApiKeyOut.model_validate(view).model_dump(), "key": key})


@router.delete("/workspaces/{ws}/api-keys/{key_id}", status_code=NO_CONTENT, tags=["api keys"], summary="Revoke")
async def revoke_api_key(key_id: str, member: Manager, state: State) -> Response:
    await state.services.api_keys.revoke(workspace_id=member.workspace_id, key_id=key_id)
    return Response(status_code=NO_CONTENT)
