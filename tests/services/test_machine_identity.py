"""This machine's cloud identity for a workspace: through the operator's hosted config, and never through the
workspace's own credentials unless the operator allows it (MODELYARD_MACHINE_IDENTITY)."""

from __future__ import annotations

import os
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from modelyard.catalog import default_catalog
from modelyard.errors import CredentialValidationError
from modelyard.services.context import Services
from modelyard.services.hosted import HostedConfig, load_hosted_config
from modelyard.settings import Settings, SettingsError
from modelyard.signing.machine_identity import OperatorCredentials
from modelyard.types import ChatRequest, Message
from tests.fakes.aws import FakeAWS
from tests.fakes.loopback import served
from tests.support import make_settings

HI = ChatRequest(messages=(Message.user("Hi"),))


@pytest.fixture(autouse=True)
def machine_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAMACHINE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "machine-secret")


@pytest.fixture
async def fake_aws() -> AsyncIterator[FakeAWS]:
    async with served(FakeAWS(keys={"AKIAMACHINE": "machine-secret"})) as fake:
        yield fake


@pytest.fixture
def hosted(fake_aws: FakeAWS, tmp_path: Path) -> HostedConfig:
    path = tmp_path / "hosted.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            providers:
              bedrock:
                credentials: {{auth_method: default_chain, aws_region: us-east-1, endpoint_url: "{fake_aws.url}"}}
                quota: {{type: trial, unit: times, limit: 10}}
            """
        )
    )
    return load_hosted_config(path, default_catalog())


async def test_the_hosted_config_signs_with_the_machines_identity(services, workspace, hosted, fake_aws) -> None:
    assert isinstance(hosted.providers["bedrock"].credentials, OperatorCredentials)
    invocation = await services.invoker.chat(workspace_id=workspace, model="bedrock/amazon.nova-pro-v1:0", request=HI)
    assert invocation.provider_type == "system"
    assert (fake_aws.signatures[-1].access_key, fake_aws.signatures[-1].ok) == ("AKIAMACHINE", True)


async def test_a_workspace_cannot_save_the_machines_identity_as_its_own(services, workspace, fake_aws) -> None:
    values = {"auth_method": "default_chain", "aws_region": "us-east-1", "endpoint_url": fake_aws.url}
    with pytest.raises(CredentialValidationError) as refused:
        await services.credentials.create(workspace_id=workspace, provider="bedrock", values=values)
    assert refused.value.field == "auth_method"
    assert fake_aws.requests == []


def test_the_policy_comes_from_the_environment_and_a_bad_value_is_named() -> None:
    assert Settings.from_env({}).machine_identity == "hosted"
    assert Settings.from_env({"MODELYARD_MACHINE_IDENTITY": "ALL"}).machine_identity == "all"
    with pytest.raises(SettingsError, match="MODELYARD_MACHINE_IDENTITY"):
        Settings.from_env({"MODELYARD_MACHINE_IDENTITY": "everyone"})


async def test_an_operator_who_allows_all_lets_a_workspace_save_the_machines_identity(tmp_path, fake_aws) -> None:
    services = Services(make_settings(tmp_path, "sqlite", None, machine_identity="all"), hosted=HostedConfig({}))
    await services.start()
    try:
        workspace = (await services.workspaces.create("Acme")).id
        values = {"auth_method": "default_chain", "aws_region": "us-east-1", "endpoint_url": fake_aws.url}
        saved = await services.credentials.create(workspace_id=workspace, provider="bedrock", values=values)
    finally:
        await services.close()
    assert saved.status == "verified"
    assert fake_aws.signatures[-1].access_key == "AKIAMACHINE"
