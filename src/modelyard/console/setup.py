"""First-run setup: a one-time token lets whoever started the server create the first owner.

The token is stored as its SHA-256 in `system_settings` (not in `services.cache`): `modelyard serve` creates it
before its workers start, and every worker and replica must accept it, with or without Redis. Each call to
`setup_token` replaces the previous token, so only the link printed last works; using it deletes it.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from sqlalchemy import delete
from sqlalchemy.engine import CursorResult

from modelyard.console.sessions import hash_token
from modelyard.errors import ConflictError, PermissionDeniedError
from modelyard.store.tables import SystemSetting

if TYPE_CHECKING:
    from modelyard.services.accounts import AccountView
    from modelyard.services.context import Services
    from modelyard.services.workspaces import WorkspaceView

SETUP_KEY = "console_setup_token"
FIRST_WORKSPACE = "Default"


async def setup_token(services: Services) -> str | None:
    """A new one-time setup token while no account exists, else None; needs a migrated database.

    The CLI prints it as `http://HOST:PORT/#/setup?token=...`.
    """
    if await services.accounts.count():
        async with services.db.begin() as session:
            await session.execute(delete(SystemSetting).where(SystemSetting.key == SETUP_KEY))
        return None
    token = secrets.token_urlsafe(32)
    async with services.db.begin() as session:
        row = await session.get(SystemSetting, SETUP_KEY)
        if row is None:
            session.add(SystemSetting(key=SETUP_KEY, value=hash_token(token)))
        else:
            row.value = hash_token(token)
    return token


async def is_setup_needed(services: Services) -> bool:
    return await services.accounts.count() == 0


async def complete_setup(
    services: Services, *, token: str, email: str, password: str, name: str = ""
) -> tuple[AccountView, WorkspaceView]:
    """Create the first owner and a first workspace, once: the token is consumed atomically."""
    if not await is_setup_needed(services):
        raise ConflictError("setup is done: an account exists; sign in instead")
    async with services.db.begin() as session:
        consumed = await session.execute(
            delete(SystemSetting).where(SystemSetting.key == SETUP_KEY, SystemSetting.value == hash_token(token))
        )
        if not isinstance(consumed, CursorResult) or consumed.rowcount != 1:
            if await session.get(SystemSetting, SETUP_KEY) is None:
                raise ConflictError("no setup is pending: restart `modelyard serve` for a new setup link")
            raise PermissionDeniedError("the setup token does not match; use the link `modelyard serve` printed")
    try:
        account = await services.accounts.create(email=email, password=password, name=name)
    except BaseException:  # a bad email or password: give the token back so the user can correct it
        async with services.db.begin() as session:
            if await session.get(SystemSetting, SETUP_KEY) is None:
                session.add(SystemSetting(key=SETUP_KEY, value=hash_token(token)))
        raise
    workspace = await services.workspaces.create(FIRST_WORKSPACE)
    await services.accounts.add_member(workspace_id=workspace.id, account_id=account.id, role="owner")
    return account, workspace
