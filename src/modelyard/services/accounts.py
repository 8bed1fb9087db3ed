"""Accounts (email and an argon2id password hash) and their memberships of workspaces, with roles."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.errors import (
    ConflictError,
    CredentialError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from modelyard.store.tables import Account, Membership, Workspace

if TYPE_CHECKING:
    from modelyard.services.context import Services

ROLES = ("owner", "admin", "member")
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024  # argon2 takes any length; the cap only keeps absurd inputs out
_EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_BAD_LOGIN = "wrong email or password"  # one message for both, so a login cannot tell which emails exist

# argon2id at its default cost takes 64 MiB and ~0.2 s per hash: two threads of their own bound the memory
# whatever the login rate, and queued logins wait here without holding the loop's default executor (DNS uses it).
_HASHING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="modelyard-argon2")


@dataclass(frozen=True, slots=True)
class AccountView:
    """An account as the rest of the program sees it: never its password hash."""

    id: str
    email: str
    name: str
    is_active: bool
    created_at: datetime

    @classmethod
    def of(cls, row: Account) -> AccountView:
        return cls(row.id, row.email, row.name, row.is_active, _utc(row.created_at))


@dataclass(frozen=True, slots=True)
class MemberView:
    account_id: str
    email: str
    name: str
    role: str
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class WorkspaceRole:
    """A workspace an account belongs to, and its role there."""

    id: str
    name: str
    role: str


class AccountService:
    def __init__(self, services: Services) -> None:
        self._services = services
        self.password_hasher = PasswordHasher()  # argon2id with the library's current (RFC 9106) parameters
        self._dummy_hash: str | None = None

    async def create(self, *, email: str, password: str, name: str = "") -> AccountView:
        email = valid_email(email)
        _check_password(password)
        name = _valid_name(name)
        password_hash = await self._hash(password)
        async with self._services.db.begin() as session:
            row = Account(email=email, name=name, password_hash=password_hash, is_active=True)
            session.add(row)
            try:
                await session.flush()
            except IntegrityError as exc:
                raise ConflictError(f"an account with email {email!r} already exists") from exc
        return AccountView.of(row)

    async def authenticate(self, *, email: str, password: str) -> AccountView:
        """The account these credentials open; a wrong email and a wrong password fail alike."""
        async with self._services.db() as session:
            row = await session.scalar(select(Account).where(Account.email == email.strip().lower()))
        if row is None:
            await self._verify(await self._dummy(), password)  # spend the same time as a real check
            raise CredentialError(_BAD_LOGIN)
        if not await self._verify(row.password_hash, password):
            raise CredentialError(_BAD_LOGIN)
        if not row.is_active:  # said only to someone who knows the password
            raise CredentialError("this account is disabled")
        if self.password_hasher.check_needs_rehash(row.password_hash):
            await self._rehash(row, password)
        return AccountView.of(row)

    async def get(self, account_id: str) -> AccountView:
        async with self._services.db() as session:
            return AccountView.of(await _account(session, account_id))

    async def count(self) -> int:
        async with self._services.db() as session:
            return int(await session.scalar(select(func.count()).select_from(Account)) or 0)

    async def set_password(self, account_id: str, password: str) -> None:
        _check_password(password)
        password_hash = await self._hash(password)
        async with self._services.db.begin() as session:
            (await _account(session, account_id)).password_hash = password_hash

    async def set_active(self, account_id: str, is_active: bool) -> AccountView:
        """Disable an account (it can no longer log in) or enable it again; memberships are kept."""
        async with self._services.db.begin() as session:
            row = await _account(session, account_id)
            row.is_active = is_active
        return AccountView.of(row)

    async def add_member(self, *, workspace_id: str, account_id: str, role: str) -> MemberView:
        _check_role(role)
        async with self._services.db.begin() as session:
            if await session.get(Workspace, workspace_id) is None:
                raise NotFoundError(f"workspace {workspace_id!r} does not exist")
            account = AccountView.of(await _account(session, account_id))  # a failed flush expires the row
            row = Membership(workspace_id=workspace_id, account_id=account_id, role=role)
            session.add(row)
            try:
                await session.flush()
            except IntegrityError as exc:
                raise ConflictError(f"{account.email} is already a member of this workspace") from exc
        return MemberView(account.id, account.email, account.name, row.role, _utc(row.created_at))

    async def set_role(self, *, workspace_id: str, account_id: str, role: str) -> None:
        _check_role(role)
        async with self._services.db.begin() as session:
            await self._lock_owners(session, workspace_id=workspace_id)
            row = await _membership(session, workspace_id, account_id)
            if row.role == "owner" and role != "owner":
                await _refuse_last_owner(session, workspace_id, "demote")
            row.role = role

    async def remove_member(self, *, workspace_id: str, account_id: str) -> None:
        async with self._services.db.begin() as session:
            await self._lock_owners(session, workspace_id=workspace_id)
            row = await _membership(session, workspace_id, account_id)
            if row.role == "owner":
                await _refuse_last_owner(session, workspace_id, "remove")
            await session.delete(row)

    async def members(self, *, workspace_id: str) -> list[MemberView]:
        query = (
            select(Membership, Account)
            .join(Account, Account.id == Membership.account_id)
            .where(Membership.workspace_id == workspace_id)
            .order_by(Membership.created_at, Membership.id)
        )
        async with self._services.db() as session:
            rows = (await session.execute(query)).all()
        return [MemberView(a.id, a.email, a.name, m.role, _utc(m.created_at)) for m, a in rows]

    async def role_of(self, *, workspace_id: str, account_id: str) -> str | None:
        async with self._services.db() as session:
            return await session.scalar(
                select(Membership.role).where(
                    Membership.workspace_id == workspace_id, Membership.account_id == account_id
                )
            )

    async def require_role(self, *, workspace_id: str, account_id: str, allowed: Collection[str]) -> str:
        """The account's role, if it is one of `allowed`.

        A non-member gets the same NotFoundError as for a workspace that does not exist, so outsiders cannot
        learn which workspace ids exist; a member whose role is not allowed gets PermissionDeniedError.
        """
        role = await self.role_of(workspace_id=workspace_id, account_id=account_id)
        if role is None:
            raise NotFoundError(f"workspace {workspace_id!r} does not exist")
        if role not in allowed:
            raise PermissionDeniedError(f"the {role} role cannot do this; it needs {' or '.join(sorted(allowed))}")
        return role

    async def workspaces_of(self, account_id: str) -> list[WorkspaceRole]:
        query = (
            select(Workspace.id, Workspace.name, Membership.role)
            .join(Membership, Membership.workspace_id == Workspace.id)
            .where(Membership.account_id == account_id)
            .order_by(Workspace.created_at, Workspace.id)
        )
        async with self._services.db() as session:
            return [WorkspaceRole(*row) for row in (await session.execute(query)).all()]

    async def _lock_owners(self, session: AsyncSession, *, workspace_id: str) -> None:
        """Serialise changes that may take away an owner, so two of them cannot each leave the other last.

        Call first in the transaction: PostgreSQL locks the owner rows (in id order, so no deadlock); SQLite
        takes its database write lock with a no-op update. Later reads in the transaction then see the latest
        owners. Adding an owner takes no lock: it can only make the count larger.
        """
        owners = (Membership.workspace_id == workspace_id, Membership.role == "owner")
        if self._services.engine.dialect.name == "postgresql":
            await session.execute(select(Membership.id).where(*owners).order_by(Membership.id).with_for_update())
        else:
            no_op = update(Membership).where(*owners).values(role=Membership.role)
            await session.execute(no_op.execution_options(synchronize_session=False))

    async def _hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(_HASHING, self.password_hasher.hash, password)

    async def _verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(_HASHING, self._verify_now, password_hash, password)

    def _verify_now(self, password_hash: str, password: str) -> bool:
        try:
            return self.password_hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await self._hash(secrets.token_urlsafe(16))
        return self._dummy_hash

    async def _rehash(self, row: Account, password: str) -> None:
        """Store a hash made with the current parameters, unless the password changed meanwhile."""
        new_hash = await self._hash(password)
        async with self._services.db.begin() as session:
            await session.execute(
                update(Account)
                .where(Account.id == row.id, Account.password_hash == row.password_hash)
                .values(password_hash=new_hash)
            )


async def _account(session: AsyncSession, account_id: str) -> Account:
    row = await session.get(Account, account_id)
    if row is None:
        raise NotFoundError(f"account {account_id!r} does not exist")
    return row


async def _membership(session: AsyncSession, workspace_id: str, account_id: str) -> Membership:
    row = await session.scalar(
        select(Membership).where(Membership.workspace_id == workspace_id, Membership.account_id == account_id)
    )
    if row is None:
        raise NotFoundError(f"account {account_id!r} is not a member of workspace {workspace_id!r}")
    return row


async def _refuse_last_owner(session: AsyncSession, workspace_id: str, action: str) -> None:
    owners = await session.scalar(
        select(func.count()).where(Membership.workspace_id == workspace_id, Membership.role == "owner")
    )
    if int(owners or 0) <= 1:
        raise ConflictError(f"cannot {action} the last owner of a workspace; make another member owner first")


def valid_email(email: str) -> str:
    """The email as stored (trimmed, lower case); InvalidRequestError naming `email` when it is not one."""
    email = email.strip().lower()
    if len(email) > 320 or not _EMAIL_SHAPE.fullmatch(email):
        raise InvalidRequestError(f"{email!r} is not an email address", field="email")
    return email


def _check_password(password: str) -> None:
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise InvalidRequestError(
            f"a password is {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters", field="password"
        )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidRequestError(f"role must be one of {', '.join(ROLES)}, not {role!r}", field="role")


def _valid_name(name: str) -> str:
    name = name.strip()
    if len(name) > 120:
        raise InvalidRequestError("a name is at most 120 characters", field="name")
    return name


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite returns UTC without a zone
