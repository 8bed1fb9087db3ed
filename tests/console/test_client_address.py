"""The client behind a reverse proxy: forwarded headers believed only from trusted proxies, read from the right."""

from __future__ import annotations

import dataclasses
from ipaddress import ip_network

import pytest
from starlette.requests import Request

from modelyard.console.client_address import client_address
from modelyard.settings import Settings, SettingsError
from tests.support.console import API, PASSWORD, Console, error_of

PROXIES = (ip_network("10.0.0.0/8"), ip_network("fd00::/8"))


def request(peer: str, *headers: tuple[str, str]) -> Request:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": raw, "client": (peer, 50000)})


@pytest.mark.parametrize(
    ("peer", "headers", "client"),
    [
        ("192.0.2.1", [], "192.0.2.1"),
        ("192.0.2.1", [("X-Forwarded-For", "198.51.100.7")], "192.0.2.1"),  # not a proxy of ours: ignored
        ("192.0.2.1", [("Forwarded", "for=198.51.100.7")], "192.0.2.1"),
        ("10.0.0.5", [("X-Forwarded-For", "198.51.100.7")], "198.51.100.7"),
        ("10.0.0.5", [], "10.0.0.5"),  # a proxy that names no client is itself the client
        # the client wrote the left part itself; the right-most address no trusted proxy holds is the client
        ("10.0.0.5", [("X-Forwarded-For", "1.1.1.1, 198.51.100.7, 10.2.3.4")], "198.51.100.7"),
        ("10.0.0.5", [("X-Forwarded-For", "1.1.1.1"), ("X-Forwarded-For", "198.51.100.7")], "198.51.100.7"),
        ("10.0.0.5", [("X-Forwarded-For", "198.51.100.7:4711")], "198.51.100.7"),
        ("10.0.0.5", [("X-Forwarded-For", "10.9.9.9, 10.2.3.4")], "10.9.9.9"),  # only proxies: the first asked
        ("10.0.0.5", [("Forwarded", 'for=1.1.1.1, for="[2001:db8::7]:4711";proto=https')], "2001:db8::7"),
        ("10.0.0.5", [("Forwarded", "for=198.51.100.7;by=10.0.0.5, for=10.1.1.1")], "198.51.100.7"),
        ("10.0.0.5", [("Forwarded", "for=unknown")], "unknown"),
        ("10.0.0.5", [("X-Forwarded-For", "198.51.100.7"), ("Forwarded", "for=1.1.1.1")], "198.51.100.7"),
        ("fd00::1", [("X-Forwarded-For", "2001:db8::9")], "2001:db8::9"),
        ("::ffff:10.0.0.5", [("X-Forwarded-For", "198.51.100.7")], "198.51.100.7"),
    ],
)
def test_the_client_is_read_from_the_right_behind_trusted_proxies_only(peer, headers, client) -> None:
    assert client_address(request(peer, *headers), PROXIES) == client


def test_without_trusted_proxies_every_forwarded_header_is_ignored() -> None:
    forwarded = request("10.0.0.5", ("X-Forwarded-For", "198.51.100.7"), ("Forwarded", "for=198.51.100.8"))

    assert client_address(forwarded, ()) == "10.0.0.5"


def test_trusted_proxies_are_read_from_the_environment() -> None:
    settings = Settings.from_env({"MODELYARD_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7 fd00::/8"})

    assert settings.trusted_proxies == (ip_network("10.0.0.0/8"), ip_network("192.0.2.7/32"), ip_network("fd00::/8"))
    assert Settings.from_env({}).trusted_proxies == ()
    with pytest.raises(SettingsError, match="MODELYARD_TRUSTED_PROXIES"):
        Settings.from_env({"MODELYARD_TRUSTED_PROXIES": "10.0.0.1/8"})


# --- through the sign-in route (the in-process client's peer is 127.0.0.1) ------------------------------------------


async def sign_in(console: Console, email: str, password: str, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    response = await console.client().post(
        f"{API}/auth/login", json={"email": email, "password": password}, headers=headers
    )
    if response.status_code == 429:
        assert error_of(response)["code"] == "rate_limited" and int(response.headers["retry-after"]) >= 1
    return response.status_code


@pytest.fixture
async def owner(console: Console) -> str:
    await console.account("owner@example.com")
    return "owner@example.com"


async def test_behind_a_trusted_proxy_an_attackers_guesses_do_not_lock_the_owner_out(
    console: Console, owner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = dataclasses.replace(console.services.settings, trusted_proxies=(ip_network("127.0.0.1/32"),))
    monkeypatch.setattr(console.services, "settings", settings)

    guesses = [await sign_in(console, owner, f"guess {n}", "203.0.113.9") for n in range(12)]

    assert guesses[:5] == [401] * 5 and set(guesses[5:]) == {429}
    assert await sign_in(console, owner, PASSWORD, "198.51.100.7") == 200  # the owner, behind the same proxy


async def test_a_forwarded_header_from_an_untrusted_peer_changes_nothing(console: Console, owner: str) -> None:
    # No trusted proxies: each guess claiming another address is still counted against the socket's peer.
    guesses = [await sign_in(console, owner, f"guess {n}", f"203.0.113.{n}") for n in range(7)]

    assert guesses[:5] == [401] * 5 and set(guesses[5:]) == {429}
