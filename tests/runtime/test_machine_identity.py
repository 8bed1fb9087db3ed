"""Who may sign with this machine's own cloud identity, and where those credential requests may go.

The operator's policy (MODELYARD_MACHINE_IDENTITY, `Runtime(machine_identity=...)`) is checked on every call before
a cached token is used; the hosted config's credentials arrive as OperatorCredentials, which a workspace cannot
make. The requests of the machine's own credential chain (metadata servers, container endpoints) skip the tenants'
upstream address policy, which refuses link-local addresses, and only they do.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer

from modelyard.errors import AddressRefusedError, CredentialValidationError
from modelyard.runtime.access_tokens import TokenCache
from modelyard.runtime.address_policy import AddressRules, UpstreamPolicy
from modelyard.runtime.invoke import Runtime
from modelyard.signing.machine_identity import MachineIdentityPolicy, OperatorCredentials
from tests.fakes.aws import FakeAWS, FakeMachineCredentials
from tests.fakes.loopback import served

CHAIN = {"auth_method": "default_chain", "aws_region": "us-east-1"}
MESSAGES = [{"role": "user", "content": "Hi"}]


@pytest.fixture(autouse=True)
def environment_keys(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """The machine's identity is a key pair in its environment (the first source of the chain)."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAMACHINE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "machine-secret")


@pytest.fixture
async def fake_aws() -> AsyncIterator[FakeAWS]:
    async with served(FakeAWS(keys={"AKIAMACHINE": "machine-secret", "ASIAMACHINE": "machine-secret"})) as fake:
        yield fake


def runtime_under(policy: MachineIdentityPolicy | None, upstream_policy: UpstreamPolicy | None = None) -> Runtime:
    """A runtime whose token cache applies `policy` (None: the runtime's default, `hosted`)."""
    runtime = Runtime(upstream_policy=upstream_policy)
    if policy is not None:
        runtime.tokens = TokenCache(runtime.transport, machine_identity=policy)
    return runtime


async def chat(runtime: Runtime, fake: FakeAWS, credentials) -> str:
    result = await runtime.chat(
        provider="bedrock", model="amazon.nova-pro-v1:0", credentials=credentials, messages=MESSAGES, base_url=fake.url
    )
    return result.content


async def test_by_default_only_the_hosted_configs_credentials_may_use_the_machines_identity(fake_aws) -> None:
    async with runtime_under(None) as runtime:
        assert await chat(runtime, fake_aws, OperatorCredentials(CHAIN)) == "Hello!"
        assert fake_aws.signatures[-1].access_key == "AKIAMACHINE" and fake_aws.signatures[-1].ok
        sent = len(fake_aws.requests)
        # A workspace typing the same values gets no share of the operator's identity, cached token or not.
        with pytest.raises(CredentialValidationError) as refused:
            await chat(runtime, fake_aws, dict(CHAIN))
    assert refused.value.field == "auth_method"
    assert "MODELYARD_MACHINE_IDENTITY=hosted" in str(refused.value)
    assert len(fake_aws.requests) == sent


async def test_all_lets_every_credential_set_use_it_and_off_lets_none(fake_aws) -> None:
    async with runtime_under("all") as runtime:
        assert await chat(runtime, fake_aws, dict(CHAIN)) == "Hello!"
    async with runtime_under("off") as runtime:
        with pytest.raises(CredentialValidationError, match="allowed for nobody"):
            await chat(runtime, fake_aws, OperatorCredentials(CHAIN))


async def test_key_pairs_and_api_keys_need_no_permission(fake_aws) -> None:
    fake_aws.api_keys = frozenset({"ABSKworkspacekey"})
    async with runtime_under("off") as runtime:
        api_key = {"auth_method": "api_key", "bedrock_api_key": "ABSKworkspacekey", "aws_region": "us-east-1"}
        assert await chat(runtime, fake_aws, api_key) == "Hello!"
    assert fake_aws.requests[-1].headers["authorization"] == "Bearer ABSKworkspacekey"


async def test_the_chains_metadata_requests_skip_the_tenant_policy_and_only_they_do(fake_aws, monkeypatch) -> None:
    """The instance metadata service listens on 127.0.0.2, which the tenants' policy denies: the chain reaches it,
    a provider URL pointing there does not."""
    metadata = FakeMachineCredentials()
    server = TestServer(metadata.app, host="127.0.0.2")
    await server.start_server()
    metadata.url = str(server.make_url("")).rstrip("/")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", metadata.url)
    policy = UpstreamPolicy(deny=AddressRules.parse("127.0.0.2"))
    try:
        async with runtime_under("all", policy) as runtime:
            assert await chat(runtime, fake_aws, dict(CHAIN)) == "Hello!"
            assert metadata.requests[0].path == "/latest/api/token"
            assert fake_aws.signatures[-1].access_key == "ASIAMACHINE"
            with pytest.raises(AddressRefusedError):
                await runtime.chat(
                    provider="bedrock",
                    model="amazon.nova-pro-v1:0",
                    credentials=dict(CHAIN),
                    messages=MESSAGES,
                    base_url=metadata.url,
                )
    finally:
        await server.close()


def test_the_machine_transport_admits_the_metadata_address_the_tenant_policy_refuses() -> None:
    runtime = Runtime(upstream_policy=UpstreamPolicy(mode="strict", own_port=8080))
    machine = runtime.tokens._machine_transport()
    assert runtime.transport.policy.refusal("169.254.169.254", 80, "169.254.169.254") is not None
    assert machine.policy.refusal("169.254.169.254", 80, "169.254.169.254") is None
    assert machine.policy.refusal("169.254.170.2", 80, "169.254.170.2") is None
    assert machine.policy.refusal("127.0.0.1", 8080, "127.0.0.1") is not None  # never this service itself


async def test_the_runtime_takes_the_policy_as_an_argument(fake_aws) -> None:
    async with Runtime(machine_identity="all") as runtime:
        assert await chat(runtime, fake_aws, dict(CHAIN)) == "Hello!"
    async with Runtime() as runtime:  # the default: the hosted config's credentials only
        with pytest.raises(CredentialValidationError):
            await chat(runtime, fake_aws, dict(CHAIN))
