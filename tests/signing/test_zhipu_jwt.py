"""The Zhipu JWT held to the vendor SDK's generator: same key and a frozen clock give the same token, byte for byte."""

from __future__ import annotations

from unittest.mock import patch

import jwt
import pytest
from zhipuai.core import _jwt_token

from modelyard.errors import CredentialsNotConfiguredError, CredentialValidationError
from modelyard.protocols.base import UpstreamRequest
from modelyard.signing import SIGNING_SCHEMES
from modelyard.signing.zhipu_jwt import REUSE_FOR_S, ZhipuJWT, ZhipuJWTParams, encode_token

KEY = "9b3f0c1e2d4a5b6c7d8e9f00.AbCdEfGhIjKlMnOp"
PARAMS = ZhipuJWTParams()
REQUEST = UpstreamRequest(
    "POST", "https://open.bigmodel.cn/api/paas/v4/chat/completions", {"Content-Type": "application/json"}, b"{}"
)
NOW = 1_795_000_123.4567  # 2026-11-19, with a fraction the SDK rounds to milliseconds


def sdk_token(api_key: str, now: float) -> str:
    """What zhipuai 2.1.5 puts after `Bearer ` with disable_token_cache=False, at that instant."""
    _jwt_token.generate_token.cache_clear()  # its own 180 s cache would hand back an earlier token
    with patch("time.time", lambda: now):
        return _jwt_token.generate_token(api_key)


@pytest.mark.parametrize(
    ("api_key", "now"),
    [
        pytest.param(KEY, NOW, id="console-shaped-key"),
        pytest.param("id.s", 1_700_000_000.0, id="shortest-key-whole-second"),
        pytest.param("k3y-Ä.sécret/+=", 1_800_000_000.9995, id="non-ascii-and-rounding-up"),
    ],
)
def test_token_matches_the_zhipuai_sdk_generator_on_fixed_inputs(api_key: str, now: float) -> None:
    ours = ZhipuJWT(clock=lambda: now).token(api_key)

    assert ours == sdk_token(api_key, now)


def test_token_claims_are_in_milliseconds_and_verify_with_the_secret() -> None:
    token = ZhipuJWT(clock=lambda: NOW).token(KEY)

    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, KEY.split(".")[1], algorithms=["HS256"], options={"verify_exp": False})
    assert header == {"alg": "HS256", "sign_type": "SIGN", "typ": "JWT"}
    assert claims == {"api_key": KEY.split(".")[0], "timestamp": 1_795_000_123_457, "exp": 1_795_000_333_457}


def test_jwt_mode_sends_a_token_and_never_the_secret() -> None:
    signed = ZhipuJWT(clock=lambda: NOW).sign(PARAMS, {"api_key": KEY, "auth_method": "jwt"}, REQUEST)

    assert signed.headers["Authorization"] == f"Bearer {sdk_token(KEY, NOW)}"
    assert KEY.split(".")[1] not in signed.headers["Authorization"]
    assert signed.headers["Content-Type"] == "application/json"
    assert signed.body == REQUEST.body and signed.url == REQUEST.url


@pytest.mark.parametrize("credentials", [{"api_key": KEY}, {"api_key": KEY, "auth_method": "api_key"}])
def test_api_key_mode_sends_the_key_itself_as_the_sdk_does_by_default(credentials: dict[str, str]) -> None:
    signed = ZhipuJWT(clock=lambda: NOW).sign(PARAMS, credentials, REQUEST)

    assert signed.headers["Authorization"] == f"Bearer {KEY}"


def test_token_is_reused_until_thirty_seconds_before_it_expires() -> None:
    now = [NOW]
    scheme = ZhipuJWT(clock=lambda: now[0])
    first = scheme.token(KEY)

    now[0] = NOW + REUSE_FOR_S - 0.001
    assert scheme.token(KEY) == first
    now[0] = NOW + REUSE_FOR_S
    renewed = scheme.token(KEY)
    assert renewed != first
    assert jwt.decode(renewed, options={"verify_signature": False})["timestamp"] == round(now[0] * 1000)


def test_each_key_gets_its_own_token() -> None:
    scheme = ZhipuJWT(clock=lambda: NOW)
    other = "another-id.another-secret"

    assert scheme.token(KEY) != scheme.token(other)
    assert jwt.decode(scheme.token(other), options={"verify_signature": False})["api_key"] == "another-id"
    assert scheme.token(KEY) == encode_token(KEY, now_ms=round(NOW * 1000))


@pytest.mark.parametrize("bad_key", ["no-dot-at-all", ".secret-without-id", "id-without-secret.", "a.b.c"])
def test_a_key_not_shaped_id_dot_secret_is_refused_before_any_call(bad_key: str) -> None:
    with pytest.raises(CredentialValidationError, match=r"<id>\.<secret>"):
        ZhipuJWT().sign(PARAMS, {"api_key": bad_key, "auth_method": "jwt"}, REQUEST)


def test_an_unknown_auth_method_and_a_missing_key_are_credential_errors() -> None:
    with pytest.raises(CredentialValidationError, match="auth_method"):
        ZhipuJWT().sign(PARAMS, {"api_key": KEY, "auth_method": "hmac"}, REQUEST)
    with pytest.raises(CredentialsNotConfiguredError):
        ZhipuJWT().sign(PARAMS, {"auth_method": "jwt"}, REQUEST)


def test_scheme_is_registered_and_reads_the_key_and_the_method() -> None:
    scheme = SIGNING_SCHEMES["zhipu_jwt"]

    assert isinstance(scheme, ZhipuJWT)
    assert scheme.reads(PARAMS) == {"api_key", "auth_method"}
