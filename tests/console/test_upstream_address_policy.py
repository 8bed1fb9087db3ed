"""Credential validation under the upstream address policy: a refused base URL is a 400 naming the policy, and
nothing of what the address would have answered reaches the admin (no mapping of internal services)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from modelyard.runtime import Runtime
from modelyard.runtime.address_policy import UpstreamPolicy
from tests.fakes.openai import FakeOpenAI
from tests.support import SECRET
from tests.support.console import API, Team, error_of

BANNER = "internal admin console v3.2: login required"  # what an internal service on the fake's port might answer


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    """Strict mode, as a multi-tenant deployment runs: the fake on 127.0.0.1 stands for an internal service."""
    async with Runtime(upstream_policy=UpstreamPolicy(mode="strict")) as runtime:
        yield runtime


@pytest.fixture
def ws(team: Team) -> str:
    return f"{API}/workspaces/{team.workspace_id}"


@pytest.fixture
def internal(fake_openai: FakeOpenAI) -> dict[str, str]:
    fake_openai.fail(401, BANNER)
    return {"api_key": SECRET, "endpoint_url": f"{fake_openai.url}/v1"}


async def test_validating_a_credential_at_a_refused_address_is_a_400_naming_the_policy(
    team: Team, ws: str, internal: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    response = await team.admin.post(f"{ws}/providers/deepseek/credentials", json={"values": internal})

    assert response.status_code == 400
    message = error_of(response)["message"]
    assert message.startswith("the upstream address policy (strict) refuses 127.0.0.1:")
    assert BANNER not in response.text
    assert fake_openai.requests == []
    assert (await team.admin.get(f"{ws}/providers/deepseek/credentials")).json() == []


async def test_checking_a_stored_credential_at_a_refused_address_is_a_400_too(
    team: Team, ws: str, internal: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    created = await team.admin.post(
        f"{ws}/providers/deepseek/credentials", json={"values": internal, "validate": False}
    )
    assert created.status_code == 201, created.text

    checked = await team.admin.post(f"{ws}/credentials/{created.json()['id']}/validate")

    assert checked.status_code == 400
    assert "upstream address policy (strict)" in error_of(checked)["message"]
    assert BANNER not in checked.text
    assert fake_openai.requests == []
