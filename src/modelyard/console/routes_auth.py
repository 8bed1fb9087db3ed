"""/console/api/auth: sign in and out, who am I, access tokens, and first-run setup."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from modelyard.console.auth import (
    COOKIE,
    CookieValue,
    SignedIn,
    State,
    clear_session_cookie,
    identify,
    set_session_cookie,
)
from modelyard.console.client_address import client_address
from modelyard.console.errors import ApiError
from modelyard.console.schemas import SetupBody, SignInBody, TokenBody
from modelyard.console.sessions import SignIns
from modelyard.console.setup import complete_setup, is_setup_needed
from modelyard.console.views import (
    AccountOut,
    MeOut,
    SetupDoneOut,
    SetupStateOut,
    SignedInOut,
    TokenOut,
    WorkspaceOut,
)

router = APIRouter(prefix="/auth", tags=["auth"])
SESSION_MAX_AGE_S = int(SignIns.SESSION_TTL.total_seconds())


@router.post("/login", summary="Sign in; sets the session cookie")
async def login(body: SignInBody, request: Request, response: Response, state: State) -> SignedInOut:
    async with state.limiter.attempt(client=_client(request, state), email=body.email):
        account = await state.services.accounts.authenticate(email=body.email, password=body.password)
    token, principal = await state.sign_ins.open_session(account)
    set_session_cookie(response, request, token, max_age_s=SESSION_MAX_AGE_S)
    return SignedInOut(account=AccountOut.of(account), csrf_token=principal.csrf_token or "")


@router.post("/logout", status_code=204, summary="Sign out: ends the session and clears the cookie")
async def logout(request: Request, state: State, cookie: CookieValue) -> Response:
    # A cookie that opens no session any more is simply cleared; a live one needs its CSRF token to end.
    if cookie and await state.sign_ins.find(cookie, "session") is not None:
        principal = await identify(request, state.sign_ins, cookie, None)
        assert principal is not None
        await state.sign_ins.end(principal)
    response = Response(status_code=204)
    clear_session_cookie(response, request)
    return response


@router.get("/me", summary="The signed-in account, its workspaces and the CSRF token")
async def me(principal: SignedIn, request: Request, response: Response, state: State) -> MeOut:
    workspaces = await state.services.accounts.workspaces_of(principal.account_id)
    if principal.kind == "session":  # the server slides the session; keep the cookie alive with it
        set_session_cookie(response, request, request.cookies.get(COOKIE, ""), max_age_s=SESSION_MAX_AGE_S)
    return MeOut(
        account=AccountOut(id=principal.account_id, email=principal.email, name=principal.name),
        workspaces=[WorkspaceOut(id=w.id, name=w.name, role=w.role) for w in workspaces],
        csrf_token=principal.csrf_token,
    )


@router.post("/tokens", status_code=201, summary="Create a personal access token (shown once)")
async def create_token(body: TokenBody, request: Request, state: State) -> TokenOut:
    async with state.limiter.attempt(client=_client(request, state), email=body.email):
        account = await state.services.accounts.authenticate(email=body.email, password=body.password)
    return TokenOut(token=await state.sign_ins.issue_token(account, name=body.name))


@router.delete("/tokens/current", status_code=204, summary="Revoke the access token this request is signed with")
async def revoke_current_token(principal: SignedIn, state: State) -> Response:
    if principal.kind != "token":
        message = "this request is not signed with an access token"
        raise ApiError(400, message, type="invalid_request", code="not_a_token")
    await state.sign_ins.end(principal)
    return Response(status_code=204)


@router.get("/setup", summary="Whether first-run setup is still needed (no account exists)")
async def setup_state(state: State) -> SetupStateOut:
    return SetupStateOut(needed=await is_setup_needed(state.services))


@router.post("/setup", status_code=201, summary="Create the first owner with the one-time setup token")
async def setup(body: SetupBody, request: Request, response: Response, state: State) -> SetupDoneOut:
    async with state.limiter.attempt(client=_client(request, state)):  # guesses at the setup token
        account, workspace = await complete_setup(
            state.services, token=body.token, email=body.email, password=body.password, name=body.name
        )
    token, principal = await state.sign_ins.open_session(account)
    set_session_cookie(response, request, token, max_age_s=SESSION_MAX_AGE_S)
    return SetupDoneOut(
        account=AccountOut.of(account),
        csrf_token=principal.csrf_token or "",
        workspace=WorkspaceOut(id=workspace.id, name=workspace.name, role="owner"),
    )


def _client(request: Request, state: State) -> str:
    return client_address(request, state.services.settings.trusted_proxies)
