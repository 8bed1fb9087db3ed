"""The AWS default credential chain held to botocore's own resolution of the same environment, files and servers.

Each test sets up one machine (environment variables, ~/.aws files in a temporary home, a fake instance metadata
service or container endpoint on loopback), asks botocore 1.44 for its credentials (in a thread: its HTTP client
blocks) and asks our chain through the runtime's token cache, then compares the keys and, for the metadata
servers, the requests each sent.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import botocore.session
import orjson
import pytest

from modelyard.errors import CredentialsNotConfiguredError, UpstreamAuthError
from modelyard.runtime.access_tokens import TokenCache
from modelyard.runtime.invoke import Runtime
from tests.fakes.aws import FakeMachineCredentials
from tests.fakes.loopback import served

NOW = 1_795_858_215.0  # 2026-11-28T09:30:15Z
CHAIN = {"auth_method": "default_chain", "aws_region": "us-east-1"}


@pytest.fixture(autouse=True)
def machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A machine with no AWS configuration at all: no AWS_* variables, an empty home, metadata service off."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return tmp_path


def botocore_keys() -> tuple[str, str, str | None] | None:
    credentials = botocore.session.Session().get_credentials()
    if credentials is None:
        return None
    frozen = credentials.get_frozen_credentials()
    return frozen.access_key, frozen.secret_key, frozen.token


async def our_keys(cache: TokenCache | None = None, runtime: Runtime | None = None) -> tuple[str, str, str | None]:
    async with Runtime() as own:
        runtime = runtime or own
        tokens = cache or TokenCache(runtime.transport, machine_identity="all")  # the operator allows it for all
        resolved = orjson.loads(
            await tokens.token(runtime.binding("bedrock"), CHAIN, deadline=runtime.transport.deadline())
        )
    return resolved["access_key"], resolved["secret_key"], resolved["session_token"]


async def both_resolve() -> tuple[tuple[str, str, str | None] | None, tuple[str, str, str | None]]:
    return await asyncio.to_thread(botocore_keys), await our_keys()


# --- environment and files ---------------------------------------------------------------------------------------


async def test_environment_keys_resolve_as_botocore_resolves_them(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-session")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "env-security")  # botocore reads this name first
    theirs, ours = await both_resolve()
    assert ours == theirs == ("AKIAENVIRONMENT", "env-secret", "env-security")


async def test_environment_keys_win_over_the_profile(monkeypatch, machine) -> None:
    (machine / "credentials").write_text("[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = f\n")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    theirs, ours = await both_resolve()
    assert ours == theirs == ("AKIAENVIRONMENT", "env-secret", None)


async def test_the_named_profile_comes_from_the_credentials_file_then_the_config_file(monkeypatch, machine) -> None:
    (machine / "credentials").write_text(
        "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = d\n"
        "[work]\naws_access_key_id = AKIAWORK\naws_secret_access_key = w\naws_session_token = work-token\n"
    )
    (machine / "config").write_text("[profile lab]\naws_access_key_id = AKIALAB\naws_secret_access_key = l\n")
    theirs, ours = await both_resolve()
    assert ours == theirs == ("AKIADEFAULT", "d", None)
    monkeypatch.setenv("AWS_PROFILE", "work")
    theirs, ours = await both_resolve()
    assert ours == theirs == ("AKIAWORK", "w", "work-token")
    monkeypatch.setenv("AWS_DEFAULT_PROFILE", "lab")  # botocore reads AWS_DEFAULT_PROFILE before AWS_PROFILE
    theirs, ours = await both_resolve()
    assert ours == theirs == ("AKIALAB", "l", None)


async def test_a_profile_that_assumes_a_role_is_refused_by_name_not_swapped_for_another_identity(
    monkeypatch, machine
) -> None:
    (machine / "credentials").write_text("[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = b\n")
    (machine / "config").write_text(
        "[profile ops]\nrole_arn = arn:aws:iam::123456789012:role/ops\nsource_profile = base\n"
    )
    monkeypatch.setenv("AWS_PROFILE", "ops")
    with pytest.raises(CredentialsNotConfiguredError, match="role_arn"):
        await our_keys()


async def test_a_missing_named_profile_is_an_error_that_names_it(monkeypatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "nowhere")
    with pytest.raises(CredentialsNotConfiguredError, match="'nowhere'"):
        await our_keys()


async def test_nothing_anywhere_is_said_plainly(monkeypatch) -> None:
    assert await asyncio.to_thread(botocore_keys) is None
    with pytest.raises(CredentialsNotConfiguredError, match="no AWS credentials were found"):
        await our_keys()


# --- the container endpoint and the instance metadata service ---------------------------------------------------


async def test_the_container_endpoint_gives_the_task_role_with_its_authorization_token(monkeypatch, machine) -> None:
    token_file = machine / "eks-pod-identity-token"
    token_file.write_text("pod-identity-token")
    async with served(FakeMachineCredentials(container_token="pod-identity-token")) as fake:
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"{fake.url}/v2/credentials/task-1")
        monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(token_file))
        theirs, ours = await both_resolve()
    assert ours == theirs == fake.keys
    theirs_request, ours_request = fake.requests
    assert ours_request.path == theirs_request.path == "/v2/credentials/task-1"
    assert ours_request.headers["authorization"] == theirs_request.headers["authorization"] == "pod-identity-token"
    assert ours_request.headers["accept"] == theirs_request.headers["accept"] == "application/json"


async def test_a_refused_container_token_is_an_auth_error(monkeypatch) -> None:
    async with served(FakeMachineCredentials(container_token="expected")) as fake:
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"{fake.url}/v2/credentials/task-1")
        monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong")
        with pytest.raises(UpstreamAuthError, match="container credentials endpoint was refused"):
            await our_keys()


async def test_a_full_uri_to_an_arbitrary_host_over_http_is_refused_as_botocore_refuses_it(monkeypatch) -> None:
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://metadata.attacker.example/creds")
    with pytest.raises(CredentialsNotConfiguredError, match="FULL_URI"):
        await our_keys()


@pytest.mark.parametrize("v1_only", [False, True], ids=["imdsv2", "imdsv1-fallback"])
async def test_the_instance_role_comes_from_imds_with_the_requests_botocore_sends(monkeypatch, v1_only) -> None:
    async with served(FakeMachineCredentials(v1_only=v1_only)) as fake:
        monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
        monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", fake.url)
        theirs = await asyncio.to_thread(botocore_keys)
        sent_by_botocore = list(fake.requests)
        fake.requests.clear()
        ours = await our_keys()
    assert ours == theirs == fake.keys

    def shape(recorded):
        headers = {k: v for k, v in recorded.headers.items() if k.startswith("x-aws-ec2-metadata-token")}
        return recorded.method, recorded.path, headers

    assert [shape(r) for r in fake.requests] == [shape(r) for r in sent_by_botocore]
    expected_first = ("PUT", "/latest/api/token", {"x-aws-ec2-metadata-token-ttl-seconds": "21600"})
    assert shape(fake.requests[0]) == expected_first


async def test_imdsv1_is_not_used_when_the_operator_disabled_it(monkeypatch) -> None:
    async with served(FakeMachineCredentials(v1_only=True)) as fake:
        monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
        monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", fake.url)
        monkeypatch.setenv("AWS_EC2_METADATA_V1_DISABLED", "true")
        with pytest.raises(UpstreamAuthError, match="session token request was refused"):
            await our_keys()
    assert [r.method for r in fake.requests] == ["PUT"]


async def test_keys_with_an_expiration_are_fetched_again_ten_minutes_before_it(monkeypatch) -> None:
    clock = [NOW]
    async with served(FakeMachineCredentials(expiration="2026-11-28T10:30:15Z")) as fake:  # NOW + 1 hour
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"{fake.url}/v2/credentials/t")
        async with Runtime() as runtime:
            cache = TokenCache(runtime.transport, machine_identity="all", clock=lambda: clock[0])
            await our_keys(cache, runtime)
            clock[0] = NOW + 2800  # 49 minutes on: still well inside the hour
            await our_keys(cache, runtime)
            assert len(fake.requests) == 1
            fake.keys = ("ASIAROTATED", "rotated-secret", "rotated-token")
            clock[0] = NOW + 3600 - 600  # ten minutes before the expiration: renewed
            assert await our_keys(cache, runtime) == fake.keys
            assert len(fake.requests) == 2


async def test_a_bedrock_bearer_token_in_the_environment_comes_first_as_in_botocore(monkeypatch) -> None:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "ABSKenvironmentkey")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    async with Runtime() as runtime:
        tokens = TokenCache(runtime.transport, machine_identity="all")
        token = await tokens.token(runtime.binding("bedrock"), CHAIN, deadline=runtime.transport.deadline())
    assert orjson.loads(token) == {"bearer": "ABSKenvironmentkey"}
