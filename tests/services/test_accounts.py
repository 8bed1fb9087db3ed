from __future__ import annotations

import asyncio

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from modelyard.errors import (
    ConflictError,
    CredentialError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from modelyard.services.accounts import ROLES, AccountView
from modelyard.store.tables import Account

PASSWORD = "correct horse battery staple"


@pytest.fixture
def cheap_hashing(services) -> None:
    """argon2id at its smallest cost: the default (64 MiB, t=3) takes ~0.2 s a hash and is tested on its own."""
    services.accounts.password_hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


async def stored_hash(services, account_id: str) -> str:
    async with services.db() as session:
        return await session.scalar(select(Account.password_hash).where(Account.id == account_id))


async def new_account(services, email: str = "ada@example.com") -> str:
    return (await services.accounts.create(email=email, password=PASSWORD)).id


async def test_create_stores_an_argon2id_hash_with_current_parameters_not_the_password(services) -> None:
    account = await services.accounts.create(email="ada@example.com", password=PASSWORD, name="Ada")

    password_hash = await stored_hash(services, account.id)
    assert password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD not in password_hash
    assert not PasswordHasher().check_needs_rehash(password_hash)
    assert not hasattr(account, "password_hash")
    assert PASSWORD not in repr(account)


@pytest.mark.usefixtures("cheap_hashing")
async def test_create_normalises_the_email(services) -> None:
    account = await services.accounts.create(email="  Ada.Lovelace@Example.COM ", password=PASSWORD, name=" Ada ")

    assert (account.email, account.name, account.is_active) == ("ada.lovelace@example.com", "Ada", True)
    assert await services.accounts.get(account.id) == account


@pytest.mark.parametrize("email", ["", "ada", "ada@", "@example.com", "ada@example", "a da@example.com", "a@b@c.d"])
async def test_create_refuses_a_malformed_email(services, email: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        await services.accounts.create(email=email, password=PASSWORD)
    assert caught.value.field == "email"


@pytest.mark.parametrize("password", ["", "1234567", "x" * 1025])
async def test_create_refuses_a_password_too_short_or_absurdly_long(services, password: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        await services.accounts.create(email="ada@example.com", password=password)
    assert caught.value.field == "password"
    assert await services.accounts.count() == 0


@pytest.mark.usefixtures("cheap_hashing")
async def test_create_refuses_a_duplicate_email_whatever_its_case(services) -> None:
    await new_account(services, "ada@example.com")

    with pytest.raises(ConflictError):
        await services.accounts.create(email="ADA@example.com", password="another password")
    assert await services.accounts.count() == 1


@pytest.mark.usefixtures("cheap_hashing")
async def test_concurrent_creates_of_one_email_make_one_account(services) -> None:
    outcomes = await asyncio.gather(
        *(services.accounts.create(email="ada@example.com", password=PASSWORD) for _ in range(5)),
        return_exceptions=True,
    )

    assert sum(isinstance(o, AccountView) for o in outcomes) == 1
    assert sum(isinstance(o, ConflictError) for o in outcomes) == 4
    assert await services.accounts.count() == 1


@pytest.mark.usefixtures("cheap_hashing")
async def test_count_tells_whether_there_is_any_account(services) -> None:
    assert await services.accounts.count() == 0
    await new_account(services, "ada@example.com")
    await new_account(services, "grace@example.com")
    assert await services.accounts.count() == 2


async def test_get_of_an_unknown_account_is_not_found(services) -> None:
    with pytest.raises(NotFoundError):
        await services.accounts.get("acct_nope")


@pytest.mark.usefixtures("cheap_hashing")
async def test_authenticate_accepts_the_password_whatever_the_email_case(services) -> None:
    account_id = await new_account(services)

    account = await services.accounts.authenticate(email=" ADA@example.com", password=PASSWORD)

    assert account.id == account_id


@pytest.mark.usefixtures("cheap_hashing")
async def test_authenticate_fails_alike_for_an_unknown_email_and_a_wrong_password(services) -> None:
    await new_account(services)

    with pytest.raises(CredentialError) as wrong_password:
        await services.accounts.authenticate(email="ada@example.com", password=PASSWORD + "!")
    with pytest.raises(CredentialError) as unknown_email:
        await services.accounts.authenticate(email="eve@example.com", password=PASSWORD)

    assert type(wrong_password.value) is type(unknown_email.value)
    assert str(wrong_password.value) == str(unknown_email.value) == "wrong email or password"


@pytest.mark.usefixtures("cheap_hashing")
async def test_authenticate_refuses_a_disabled_account_and_accepts_it_once_enabled(services) -> None:
    account_id = await new_account(services)
    await services.accounts.set_active(account_id, False)

    with pytest.raises(CredentialError, match="disabled"):
        await services.accounts.authenticate(email="ada@example.com", password=PASSWORD)
    with pytest.raises(CredentialError, match="wrong email or password"):  # no hint without the password
        await services.accounts.authenticate(email="ada@example.com", password="not the password")

    await services.accounts.set_active(account_id, True)
    assert (await services.accounts.authenticate(email="ada@example.com", password=PASSWORD)).is_active


async def test_authenticate_rehashes_a_password_hashed_with_older_parameters(services) -> None:
    services.accounts.password_hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    account_id = await new_account(services)
    weak = await stored_hash(services, account_id)

    services.accounts.password_hasher = PasswordHasher()  # the operator raised the cost
    await services.accounts.authenticate(email="ada@example.com", password=PASSWORD)

    rehashed = await stored_hash(services, account_id)
    assert weak.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert rehashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert (await services.accounts.authenticate(email="ada@example.com", password=PASSWORD)).id == account_id


@pytest.mark.usefixtures("cheap_hashing")
async def test_set_password_replaces_the_old_one(services) -> None:
    account_id = await new_account(services)

    await services.accounts.set_password(account_id, "a brand new password")

    with pytest.raises(CredentialError):
        await services.accounts.authenticate(email="ada@example.com", password=PASSWORD)
    assert (await services.accounts.authenticate(email="ada@example.com", password="a brand new password")).id
    with pytest.raises(InvalidRequestError):
        await services.accounts.set_password(account_id, "short")
    with pytest.raises(NotFoundError):
        await services.accounts.set_password("acct_nope", "long enough password")


# Memberships


@pytest.mark.usefixtures("cheap_hashing")
async def test_add_member_lists_the_member_with_its_role(services, workspace: str) -> None:
    ada = await new_account(services, "ada@example.com")
    grace = await new_account(services, "grace@example.com")

    await services.accounts.add_member(workspace_id=workspace, account_id=ada, role="owner")
    await services.accounts.add_member(workspace_id=workspace, account_id=grace, role="member")

    members = await services.accounts.members(workspace_id=workspace)
    assert [(m.account_id, m.email, m.role) for m in members] == [
        (ada, "ada@example.com", "owner"),
        (grace, "grace@example.com", "member"),
    ]
    assert await services.accounts.role_of(workspace_id=workspace, account_id=grace) == "member"


@pytest.mark.usefixtures("cheap_hashing")
async def test_add_member_refuses_an_unknown_role_a_second_membership_and_unknown_ids(services, workspace) -> None:
    ada = await new_account(services)

    with pytest.raises(InvalidRequestError) as caught:
        await services.accounts.add_member(workspace_id=workspace, account_id=ada, role="superuser")
    assert caught.value.field == "role"
    await services.accounts.add_member(workspace_id=workspace, account_id=ada, role="member")
    with pytest.raises(ConflictError):
        await services.accounts.add_member(workspace_id=workspace, account_id=ada, role="admin")
    with pytest.raises(NotFoundError):
        await services.accounts.add_member(workspace_id="ws_nope", account_id=ada, role="member")
    with pytest.raises(NotFoundError):
        await services.accounts.add_member(workspace_id=workspace, account_id="acct_nope", role="member")
    assert await services.accounts.role_of(workspace_id=workspace, account_id=ada) == "member"


@pytest.mark.usefixtures("cheap_hashing")
async def test_the_last_owner_can_be_neither_demoted_nor_removed(services, workspace: str) -> None:
    ada = await new_account(services)
    await services.accounts.add_member(workspace_id=workspace, account_id=ada, role="owner")

    with pytest.raises(ConflictError, match="last owner"):
        await services.accounts.set_role(workspace_id=workspace, account_id=ada, role="admin")
    with pytest.raises(ConflictError, match="last owner"):
        await services.accounts.remove_member(workspace_id=workspace, account_id=ada)

    assert await services.accounts.role_of(workspace_id=workspace, account_id=ada) == "owner"


@pytest.mark.usefixtures("cheap_hashing")
async def test_an_owner_can_step_down_once_another_owner_exists(services, workspace: str) -> None:
    ada = await new_account(services, "ada@example.com")
    grace = await new_account(services, "grace@example.com")
    await services.accounts.add_member(workspace_id=workspace, account_id=ada, role="owner")
    await services.accounts.add_member(workspace_id=workspace, account_id=grace, role="admin")

    await services.accounts.set_role(workspace_id=workspace, account_id=grace, role="owner")
    await services.accounts.set_role(workspace_id=workspace, account_id=ada, role="member")
    await services.accounts.remove_member(workspace_id=workspace, account_id=ada)

    assert [(m.account_id, m.role) for m in await services.accounts.members(workspace_id=workspace)] == [
        (grace, "owner")
    ]
    with pytest.raises(NotFoundError):
        await services.accounts.remove_member(workspace_id=workspace, account_id=ada)
    with pytest.raises(NotFoundError):
        await services.accounts.set_role(workspace_id=workspace, account_id=ada, role="owner")


@pytest.mark.usefixtures("cheap_hashing")
@pytest.mark.parametrize("change", ["demote", "remove"])
async def test_owners_stepping_down_at_once_leave_one_owner(services, workspace: str, change: str) -> None:
    owners = [await new_account(services, f"owner{i}@example.com") for i in range(4)]
    for account_id in owners:
        await services.accounts.add_member(workspace_id=workspace, account_id=account_id, role="owner")

    async def step_down(account_id: str) -> None:
        if change == "demote":
            await services.accounts.set_role(workspace_id=workspace, account_id=account_id, role="member")
        else:
            await services.accounts.remove_member(workspace_id=workspace, account_id=account_id)

    outcomes = await asyncio.gather(*(step_down(a) for a in owners), return_exceptions=True)

    assert sorted(type(o).__name__ for o in outcomes) == ["ConflictError", "NoneType", "NoneType", "NoneType"]
    roles = [await services.accounts.role_of(workspace_id=workspace, account_id=a) for a in owners]
    assert roles.count("owner") == 1


@pytest.mark.usefixtures("cheap_hashing")
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "allowed", [("owner",), ("owner", "admin"), ("owner", "admin", "member")], ids=["owner", "admin+", "member+"]
)
async def test_require_role_admits_exactly_the_allowed_roles(services, workspace, role, allowed) -> None:
    ada = await new_account(services)
    await services.accounts.add_member(workspace_id=workspace, account_id=ada, role=role)

    if role in allowed:
        assert await services.accounts.require_role(workspace_id=workspace, account_id=ada, allowed=allowed) == role
    else:
        with pytest.raises(PermissionDeniedError):
            await services.accounts.require_role(workspace_id=workspace, account_id=ada, allowed=allowed)


@pytest.mark.usefixtures("cheap_hashing")
async def test_require_role_answers_an_outsider_as_if_the_workspace_did_not_exist(services, workspace) -> None:
    outsider = await new_account(services)

    with pytest.raises(NotFoundError) as existing:
        await services.accounts.require_role(workspace_id=workspace, account_id=outsider, allowed=ROLES)
    with pytest.raises(NotFoundError) as missing:
        await services.accounts.require_role(workspace_id="ws_nope", account_id=outsider, allowed=ROLES)

    assert str(existing.value).replace(workspace, "?") == str(missing.value).replace("ws_nope", "?")


@pytest.mark.usefixtures("cheap_hashing")
async def test_a_member_of_one_workspace_has_no_role_in_another(services, workspace: str) -> None:
    other = (await services.workspaces.create("Other")).id
    ada = await new_account(services, "ada@example.com")
    grace = await new_account(services, "grace@example.com")
    await services.accounts.add_member(workspace_id=workspace, account_id=ada, role="owner")
    await services.accounts.add_member(workspace_id=other, account_id=grace, role="owner")

    assert await services.accounts.role_of(workspace_id=other, account_id=ada) is None
    with pytest.raises(NotFoundError):
        await services.accounts.require_role(workspace_id=other, account_id=ada, allowed=ROLES)
    with pytest.raises(NotFoundError):
        await services.accounts.set_role(workspace_id=other, account_id=ada, role="member")
    with pytest.raises(NotFoundError):
        await services.accounts.remove_member(workspace_id=other, account_id=ada)
    assert [m.account_id for m in await services.accounts.members(workspace_id=other)] == [grace]


@pytest.mark.usefixtures("cheap_hashing")
async def test_workspaces_of_lists_each_workspace_with_the_accounts_role(services, workspace: str) -> None:
    other = (await services.workspaces.create("Other")).id
    await services.workspaces.create("Not mine")
    ada = await new_account(services)
    await services.accounts.add_member(workspace_id=workspace, account_id=ada, role="owner")
    await services.accounts.add_member(workspace_id=other, account_id=ada, role="member")

    listed = await services.accounts.workspaces_of(ada)

    assert [(w.id, w.name, w.role) for w in listed] == [(workspace, "Acme", "owner"), (other, "Other", "member")]
