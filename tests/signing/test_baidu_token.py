"""Baidu's access-token scheme held to the qianfan SDK 0.4.12.3's own token request, and run against the fake."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from aiohttp.test_utils import TestServer
from qianfan.config import get_config
from qianfan.resources.auth.oauth import AuthManager

from modelyard.errors import CredentialsNotConfiguredError, UpstreamAuthError, UpstreamProtocolError
from modelyard.protocols.base import JSON_HEADERS, UpstreamRequest
from modelyard.signing import SIGNING_SCHEMES
from modelyard.signing.baidu_token import MAX_LIFETIME_S, BaiduAccessToken, BaiduTokenParams
from tests.fakes.wenxin import FakeWenxin
from tests.support import SECRET

NOW = 1_795_000_000.0
AK, SK = "wx-ak-0a1b2c3d", "wx-sk-4e5f6a7b"
scheme = BaiduAccessToken()
params = BaiduTokenParams()
LEGACY = {"api_style": "legacy", "api_key": AK, "secret_key": SK}


def test_the_scheme_is_registered_and_reads_the_form_fields() -> None:
    assert SIGNING_SCHEMES["baidu_access_token"].name == "baidu_access_token"
    assert scheme.reads(params) == {"api_key", "secret_key", "api_style", "endpoint_url"}


def test_legacy_token_request_matches_the_sdk() -> None:
    theirs = AuthManager()._auth_request(AK, SK)  # what the SDK sends to refresh a token (no I/O)
    ours = scheme.token_request(params, LEGACY, NOW)
    assert ours.method == theirs.method == "POST"
    ours_url = urlsplit(ours.url)
    assert f"{ours_url.scheme}://{ours_url.netloc}{ours_url.path}" == theirs.url
    assert theirs.url == f"{get_config().BASE_URL}/oauth/2.0/token" == "https://aip.baidubce.com/oauth/2.0/token"
    assert dict(parse_qsl(ours_url.query)) == theirs.query


def test_an_endpoint_override_moves_the_token_request() -> None:
    ours = scheme.token_request(params, {**LEGACY, "endpoint_url": "http://proxy.test:8080/"}, NOW)
    assert ours.url.startswith("http://proxy.test:8080/oauth/2.0/token?grant_type=client_credentials&")


def test_legacy_without_a_secret_key_names_the_missing_field() -> None:
    with pytest.raises(CredentialsNotConfiguredError, match="secret_key"):
        scheme.token_request(params, {"api_style": "legacy", "api_key": AK}, NOW)


def test_parse_token_keeps_a_token_a_day_at_most() -> None:
    body = b'{"access_token": "24.abc", "expires_in": 2592000, "refresh_token": "25.x"}'
    token = scheme.parse_token(params, body, NOW)
    assert token.value == "24.abc"
    assert token.expires_at == NOW + MAX_LIFETIME_S
    short = scheme.parse_token(params, b'{"access_token": "24.abc", "expires_in": 600}', NOW)
    assert short.expires_at == NOW + 600


def test_invalid_client_is_an_auth_error_naming_baidus_reason() -> None:
    body = b'{"error": "invalid_client", "error_description": "Client authentication failed"}'
    with pytest.raises(UpstreamAuthError, match="Client authentication failed"):
        scheme.parse_token(params, body, NOW)


def test_an_unreadable_token_answer_is_a_protocol_error() -> None:
    with pytest.raises(UpstreamProtocolError):
        scheme.parse_token(params, b"<html>", NOW)


def test_legacy_calls_carry_the_token_as_a_query_parameter() -> None:
    request = UpstreamRequest("POST", "https://aip.baidubce.com/rpc/2.0/x/chat/completions", JSON_HEADERS, b"{}")
    signed = scheme.sign_with_token(params, LEGACY, request, "24.t+k/n")
    assert signed.url == "https://aip.baidubce.com/rpc/2.0/x/chat/completions?access_token=24.t%2Bk%2Fn"
    assert signed.headers == JSON_HEADERS
    with_query = UpstreamRequest("POST", "https://h.test/p?a=1", {}, None)
    assert scheme.sign_with_token(params, LEGACY, with_query, "t").url == "https://h.test/p?a=1&access_token=t"


def test_v2_keys_need_no_exchange_and_calls_carry_them_as_a_bearer() -> None:
    v2 = {"api_style": "v2", "api_key": SECRET}
    assert not scheme.needs_token(params, v2)
    assert scheme.needs_token(params, {"api_style": "legacy", "api_key": AK, "secret_key": SK})
    request = UpstreamRequest("POST", "https://qianfan.baidubce.com/v2/chat/completions", JSON_HEADERS, b"{}")
    signed = scheme.sign(params, v2, request)
    assert signed.headers["Authorization"] == f"Bearer {SECRET}"
    assert signed.url == request.url


@pytest.fixture
async def fake() -> FakeWenxin:
    upstream = FakeWenxin(keys={AK: SK})
    server = TestServer(upstream.app, host="127.0.0.1")
    # No access log: it would show the token request's query, where Baidu wants the Secret Key.
    await server.start_server(access_log=None)
    upstream.url = str(server.make_url("")).rstrip("/")
    yield upstream
    await server.close()


async def test_one_token_serves_many_calls(runtime, fake) -> None:
    credentials = {**LEGACY, "endpoint_url": fake.url}
    for _ in range(3):
        await runtime.chat(provider="wenxin", model="ernie-3.5-8k", credentials=credentials, messages=[_HI])
    token_calls = [r for r in fake.requests if r.path == "/oauth/2.0/token"]
    assert len(token_calls) == 1
    assert [r.query["access_token"] for r in fake.requests if r.path != "/oauth/2.0/token"] == fake.issued * 3


@pytest.mark.parametrize(
    ("credentials", "reason"),
    [
        ({"api_key": "wx-ak-unknown", "secret_key": SK}, "unknown client id"),
        ({"api_key": AK, "secret_key": "wx-sk-wrong"}, "Client authentication failed"),
    ],
)
async def test_a_refused_key_pair_is_an_auth_error(runtime, fake, credentials, reason) -> None:
    values = {"api_style": "legacy", "endpoint_url": fake.url, **credentials}
    with pytest.raises(UpstreamAuthError, match=reason) as caught:
        await runtime.chat(provider="wenxin", model="ernie-3.5-8k", credentials=values, messages=[_HI])
    assert "wx-sk" not in str(caught.value)


_HI = {"role": "user", "content": "Hi"}
