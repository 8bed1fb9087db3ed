"""Who is calling and what they may do: the dependencies every console route declares.

A request is signed in by the session cookie (web console) or by `Authorization: Bearer <access token>`
(automation). Cookie-authenticated writes must echo the session's CSRF token in `X-CSRF-Token`; a bearer token
cannot be sent by a browser on its own, so it needs none.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request, Response, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from modelyard.console.errors import ApiError, not_signed_in
from modelyard.console.sessions import Principal, SignIns
from modelyard.console.state import ConsoleState
from modelyard.services.accounts import ROLES

COOKIE = "modelyard_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MANAGERS = ("owner", "admin")

session_cookie = APIKeyCookie(
    name=COOKIE, auto_error=False, scheme_name="session", description="The web console's session cookie."
)
access_token = HTTPBearer(
    auto_error=False,
    scheme_name="accessToken",
    description="A personal access token from POST /console/api/auth/tokens; needs no CSRF header.",
)


def console_state(request: Request) -> ConsoleState:
    return cast(ConsoleState, request.app.state.console)


State = Annotated[ConsoleState, Depends(console_state)]
CookieValue = Annotated[str | None, Security(session_cookie)]
BearerValue = Annotated[HTTPAuthorizationCredentials | None, Security(access_token)]


async def identify(request: Request, sign_ins: SignIns, cookie: str | None, bearer: str | None) -> Principal | None:
    """The caller, or None when the request carries no credentials; refuses bad ones and missing CSRF."""
    if bearer is not None:
        principal = await sign_ins.find(bearer, "token")
        if principal is None:
            raise ApiError(401, "this access token is unknown or revoked", type="authentication", code="invalid_token")
        return principal
    if not cookie:
        return None
    principal = await sign_ins.find(cookie, "session")
    if principal is None:
        raise ApiError(401, "your session has ended; sign in again", type="authentication", code="session_expired")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), (principal.csrf_token or "").encode()):
            raise ApiError(403, f"send the session's CSRF token in {CSRF_HEADER}", type="permission", code="csrf")
    return principal


async def signed_in(request: Request, state: State, cookie: CookieValue, bearer: BearerValue) -> Principal:
    principal = await identify(request, state.sign_ins, cookie, bearer.credentials if bearer else None)
    if principal is None:
        raise not_signed_in()
    return principal


SignedIn = Annotated[Principal, Depends(signed_in)]


@dataclass(frozen=True, slots=True)
class Member:
    """A signed-in caller inside one workspace, with their role there."""

    principal: Principal
    workspace_id: str
    role: str

    @property
    def account_id(self) -> str:
        return self.principal.account_id


async def _member(state: ConsoleState, principal: Principal, workspace_id: str, allowed: tuple[str, ...]) -> Member:
    role = await state.services.accounts.require_role(
        workspace_id=workspace_id, account_id=principal.account_id, allowed=allowed
    )
    return Member(principal, workspace_id, role)


async def any_member(ws: str, principal: SignedIn, state: State) -> Member:
    return await _member(state, principal, ws, ROLES)


async def manager(ws: str, principal: SignedIn, state: State) -> Member:
    return await _member(state, principal, ws, MANAGERS)


async def owner(ws: str, principal: SignedIn, state: State) -> Member:
    return await _member(state, principal, ws, ("owner",))


Reader = Annotated[Member, Depends(any_member)]  # any member: reads (secrets masked) and the playground
Manager = Annotated[Member, Depends(manager)]  # owner or admin: every change
Owner = Annotated[Member, Depends(owner)]


def set_session_cookie(response: Response, request: Request, token: str, *, max_age_s: int) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=max_age_s,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https")
