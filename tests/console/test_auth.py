"""Signing in and out, sessions, CSRF, access tokens, rate limits and first-run setup."""

from __future__ import annotations

import pytest

from modelyard.console.setup import setup_token
from tests.support.console import API, PASSWORD, Console, error_of


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        from tests.support import require_postgres

        require_postgres()
    return str(request.param)


async def test_login_me_and_logout_round_trip(console: Console) -> None:
    account_id = await console.account("ada@example.com")
    client = console.client()

    signed_in = await client.post(f"{API}/auth/login", json={"email": "Ada@Example.com", "password": PASSWORD})

    assert signed_in.status_code == 200
    body = signed_in.json()
    assert body["account"] == {"id": account_id, "email": "ada@example.com", "name": "ada"}
    cookie = signed_in.headers["set-cookie"]
    assert cookie.startswith("modelyard_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie and "Secure" not in cookie
    me = await client.get(f"{API}/auth/me")
    assert me.status_code == 200
    assert me.json() == {"account": body["account"], "workspaces": [], "csrf_token": body["csrf_token"]}

    logout = await client.post(f"{API}/auth/logout", headers={"X-CSRF-Token": body["csrf_token"]})

    assert logout.status_code == 204
    assert (await client.get(f"{API}/auth/me")).status_code == 401


async def test_me_lists_the_workspaces_with_roles(console: Console) -> None:
    workspace = await console.services.workspaces.create("Acme")
    await console.account("ada@example.com", workspace_id=workspace.id, role="admin")
    client = await console.sign_in("ada@example.com")

    me = (await client.get(f"{API}/auth/me")).json()

    assert me["workspaces"] == [{"id": workspace.id, "name": "Acme", "role": "admin"}]


async def test_a_logged_out_cookie_is_refused_at_once_although_it_was_cached(console: Console) -> None:
    await console.account("ada@example.com")
    client = await console.sign_in("ada@example.com")
    stolen = client.cookies["modelyard_session"]
    assert (await client.get(f"{API}/auth/me")).status_code == 200  # now in the lookup cache

    await client.post(f"{API}/auth/logout")

    replay = console.client()
    replay.cookies.set("modelyard_session", stolen)
    refused = await replay.get(f"{API}/auth/me")
    assert refused.status_code == 401
    assert error_of(refused)["code"] == "session_expired"


async def test_a_wrong_password_and_an_unknown_email_both_get_401(console: Console) -> None:
    await console.account("ada@example.com")
    client = console.client()

    wrong = await client.post(f"{API}/auth/login", json={"email": "ada@example.com", "password": "wrong-password"})
    unknown = await client.post(f"{API}/auth/login", json={"email": "bob@example.com", "password": PASSWORD})

    assert wrong.status_code == unknown.status_code == 401
    assert error_of(wrong)["message"] == error_of(unknown)["message"] == "wrong email or password"
    assert "set-cookie" not in wrong.headers


async def test_requests_without_credentials_get_401(console: Console) -> None:
    response = await console.client().get(f"{API}/workspaces")

    assert response.status_code == 401
    assert error_of(response)["code"] == "not_signed_in"


async def test_sign_in_backs_off_per_client_and_email_with_retry_after(console: Console) -> None:
    await console.account("ada@example.com")
    client = console.client()
    attempt = {"email": "ada@example.com", "password": "wrong-password"}
    for _ in range(5):
        assert (await client.post(f"{API}/auth/login", json=attempt)).status_code == 401

    limited = await client.post(f"{API}/auth/login", json={"email": "ada@example.com", "password": PASSWORD})

    assert limited.status_code == 429  # even with the right password: this client waits out its backoff
    assert 1 <= int(limited.headers["retry-after"]) <= 900
    assert error_of(limited)["code"] == "rate_limited"


async def test_one_clients_guesses_at_several_emails_are_counted_per_email(console: Console) -> None:
    client = console.client()
    statuses = [
        (await client.post(f"{API}/auth/login", json={"email": f"u{i}@example.com", "password": "x"})).status_code
        for i in range(11)
    ]

    assert statuses == [401] * 11  # far below the client's own ceiling (tests/console/test_ratelimit.py)


async def test_token_creation_is_rate_limited_like_login(console: Console) -> None:
    client = console.client()
    for _ in range(5):
        await client.post(f"{API}/auth/tokens", json={"email": "a@example.com", "password": "x"})

    limited = await client.post(f"{API}/auth/tokens", json={"email": "a@example.com", "password": "x"})

    assert limited.status_code == 429


async def test_cookie_writes_without_the_csrf_header_are_refused(console: Console) -> None:
    await console.account("ada@example.com")
    client = await console.sign_in("ada@example.com")
    csrf = client.headers.pop("X-CSRF-Token")

    missing = await client.post(f"{API}/workspaces", json={"name": "Acme"})
    wrong = await client.post(f"{API}/workspaces", json={"name": "Acme"}, headers={"X-CSRF-Token": "nope"})
    accepted = await client.post(f"{API}/workspaces", json={"name": "Acme"}, headers={"X-CSRF-Token": csrf})

    assert missing.status_code == wrong.status_code == 403
    assert error_of(missing)["code"] == error_of(wrong)["code"] == "csrf"
    assert accepted.status_code == 201
    assert (await client.get(f"{API}/workspaces")).status_code == 200  # reads need no header


async def test_a_bearer_token_works_without_csrf_and_can_be_revoked(console: Console) -> None:
    await console.account("ada@example.com")
    client = await console.token_client("ada@example.com")
    assert "X-CSRF-Token" not in client.headers

    created = await client.post(f"{API}/workspaces", json={"name": "Automation"})
    me = await client.get(f"{API}/auth/me")
    revoked = await client.delete(f"{API}/auth/tokens/current")
    after = await client.get(f"{API}/auth/me")

    assert created.status_code == 201
    assert me.json()["csrf_token"] is None
    assert revoked.status_code == 204
    assert after.status_code == 401
    assert error_of(after)["code"] == "invalid_token"


async def test_an_unknown_bearer_token_is_refused_even_with_a_valid_cookie(console: Console) -> None:
    await console.account("ada@example.com")
    client = await console.sign_in("ada@example.com")

    response = await client.get(f"{API}/auth/me", headers={"Authorization": "Bearer mypat-forged"})

    assert response.status_code == 401


async def test_a_session_cookie_is_not_accepted_as_a_bearer_token(console: Console) -> None:
    await console.account("ada@example.com")
    client = await console.sign_in("ada@example.com")
    cookie = client.cookies["modelyard_session"]

    response = await console.client().get(f"{API}/auth/me", headers={"Authorization": f"Bearer {cookie}"})

    assert response.status_code == 401


async def test_revoking_the_current_token_needs_a_token(console: Console) -> None:
    await console.account("ada@example.com")
    client = await console.sign_in("ada@example.com")

    response = await client.delete(f"{API}/auth/tokens/current")

    assert response.status_code == 400
    assert error_of(response)["code"] == "not_a_token"


async def test_a_disabled_account_cannot_sign_in_and_its_token_stops_working(console: Console) -> None:
    console.app.console.state.console.sign_ins.CACHE_TTL_S = 0.0  # else lookups are cached for 30 s
    account_id = await console.account("ada@example.com")
    client = await console.token_client("ada@example.com")
    assert (await client.get(f"{API}/auth/me")).status_code == 200
    await console.services.accounts.set_active(account_id, False)

    assert (await client.get(f"{API}/auth/me")).status_code == 401
    login = await console.client().post(f"{API}/auth/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert login.status_code == 401


async def test_the_cookie_is_secure_over_https(console: Console) -> None:
    await console.account("ada@example.com")
    client = console.client(base_url="https://testserver")

    response = await client.post(f"{API}/auth/login", json={"email": "ada@example.com", "password": PASSWORD})

    assert "Secure" in response.headers["set-cookie"]


async def test_setup_creates_the_first_owner_once_with_the_token(console: Console) -> None:
    client = console.client()
    assert (await client.get(f"{API}/auth/setup")).json() == {"needed": True}
    token = await setup_token(console.services)
    assert token is not None
    body = {"token": token, "email": "owner@example.com", "password": PASSWORD, "name": "Owner"}

    wrong = await client.post(f"{API}/auth/setup", json={**body, "token": "guess"})
    bad_password = await client.post(f"{API}/auth/setup", json={**body, "password": "short"})
    done = await client.post(f"{API}/auth/setup", json=body)
    again = await client.post(f"{API}/auth/setup", json=body)

    assert wrong.status_code == 403
    assert bad_password.status_code == 400  # the token survives a form mistake
    assert error_of(bad_password)["field"] == "password"
    assert done.status_code == 201
    assert done.json()["workspace"]["name"] == "Default"
    assert done.json()["workspace"]["role"] == "owner"
    me = await client.get(f"{API}/auth/me")  # setup signs the owner in
    assert me.json()["account"]["email"] == "owner@example.com"
    assert again.status_code == 409
    assert (await client.get(f"{API}/auth/setup")).json() == {"needed": False}
    assert await setup_token(console.services) is None


async def test_setup_token_replaces_the_previous_one(console: Console) -> None:
    first = await setup_token(console.services)
    second = await setup_token(console.services)
    client = console.client()
    body = {"email": "owner@example.com", "password": PASSWORD}

    stale = await client.post(f"{API}/auth/setup", json={**body, "token": first})
    fresh = await client.post(f"{API}/auth/setup", json={**body, "token": second})

    assert (stale.status_code, fresh.status_code) == (403, 201)
