"""Volcengine V4 held to the volcengine SDK's own signer: same inputs and a frozen clock give the same headers."""

from __future__ import annotations

import datetime
from collections import OrderedDict
from unittest.mock import patch
from urllib.parse import parse_qsl, urlsplit

import pytest
from volcengine.auth.SignerV4 import SignerV4
from volcengine.base.Request import Request
from volcengine.Credentials import Credentials

from modelyard.errors import CredentialsNotConfiguredError, UnsupportedFeatureError
from modelyard.protocols.base import Multipart, UpstreamRequest
from modelyard.signing import SIGNING_SCHEMES
from modelyard.signing.volc_v4 import VolcV4, VolcV4Params, host_of

NOW = datetime.datetime(2026, 11, 28, 9, 30, 15, tzinfo=datetime.UTC)
ACCESS_KEY = "AKLTexampleaccesskey0001"
SECRET_KEY = "TWpBeE9UZzJNVEl4WlRFM05HSmxaV0kzWVRVeFpqTTROamt4TmpNMw=="
TOKEN = "STSeyJBY2NvdW50SWQiOjIxMDAwMDAwMDB9.example+token/=="
CREDENTIALS = {"volc_access_key_id": ACCESS_KEY, "volc_secret_access_key": SECRET_KEY}
MAAS = VolcV4Params()
SIGNER = VolcV4(clock=NOW.timestamp)
CHAT = "https://maas-api.ml-platform-cn-beijing.volces.com/api/v2/endpoint/ep-20240101000000-abcde/chat"


def sdk_headers(request: UpstreamRequest, *, region: str, service: str, token: str = "") -> dict[str, str]:
    """What volcengine's SignerV4 puts on the same request at the same instant (as MaasService prepares it)."""
    parts = urlsplit(request.url)
    volc = Request()
    volc.set_method(request.method)
    volc.set_path(parts.path)
    volc.set_query(OrderedDict(parse_qsl(parts.query, keep_blank_values=True)))
    volc.set_headers(OrderedDict({"Host": host_of(request.url), **request.headers}))
    volc.set_body(request.body or b"")
    with patch.object(SignerV4, "get_current_format_date", staticmethod(lambda: NOW.strftime("%Y%m%dT%H%M%SZ"))):
        SignerV4.sign(volc, Credentials(ACCESS_KEY, SECRET_KEY, service, region, token))
    return dict(volc.headers)


CASES = [
    pytest.param(
        UpstreamRequest(
            "POST", CHAT, {"Content-Type": "application/json"}, b'{"messages":[{"role":"user","content":"hi"}]}'
        ),
        "cn-beijing",
        "",
        id="maas-chat",
    ),
    pytest.param(
        UpstreamRequest(
            "POST",
            CHAT.replace("/chat", "/embeddings"),
            {"Content-Type": "application/json", "Accept": "application/json", "X-Tt-Logid": "req-1"},
            '{"input":["天很蓝"]}'.encode(),
        ),
        "cn-beijing",
        TOKEN,
        id="x-header-signed-and-session-token",
    ),
    pytest.param(
        UpstreamRequest(
            "GET", "https://open.volcengineapi.com/?Version=2020-04-01&Action=ListUsers&Limit=10&Name=a%20b", {}, None
        ),
        "cn-north-1",
        "",
        id="openapi-query-and-empty-body",
    ),
    pytest.param(
        UpstreamRequest(
            "POST", "http://127.0.0.1:8123/api/v2/endpoint/ep-1/chat", {"Content-Type": "application/json"}, b"{}"
        ),
        "cn-shanghai",
        "",
        id="host-with-port",
    ),
]


@pytest.mark.parametrize(("request_", "region", "token"), CASES)
def test_volc_v4_matches_the_volcengine_sdks_signer_on_fixed_inputs(
    request_: UpstreamRequest, region: str, token: str
) -> None:
    params = VolcV4Params(
        service="iam" if "volcengineapi" in request_.url else "ml_maas", session_token_credential="volc_session_token"
    )
    credentials = {**CREDENTIALS, "volc_region": region} | ({"volc_session_token": token} if token else {})

    signed = SIGNER.sign(params, credentials, request_)

    expected = sdk_headers(request_, region=region, service=params.service, token=token)
    assert signed.headers["Authorization"] == expected["Authorization"]
    assert signed.headers["X-Date"] == expected["X-Date"] == "20261128T093015Z"
    assert signed.headers["X-Content-Sha256"] == expected["X-Content-Sha256"]
    assert signed.headers.get("X-Security-Token") == (token or None)
    assert signed.body == request_.body


def test_volc_v4_scope_uses_the_default_region_and_the_maas_service() -> None:
    request = UpstreamRequest("POST", CHAT, {"Content-Type": "application/json"}, b"{}")

    signed = SIGNER.sign(MAAS, CREDENTIALS, request)

    authorization = signed.headers["Authorization"]
    assert authorization.startswith(f"HMAC-SHA256 Credential={ACCESS_KEY}/20261128/cn-beijing/ml_maas/request, ")
    assert "SignedHeaders=content-type;host;x-content-sha256;x-date, " in authorization
    assert authorization == sdk_headers(request, region="cn-beijing", service="ml_maas")["Authorization"]


def test_volc_v4_replaces_a_stale_signature() -> None:
    request = UpstreamRequest(
        "POST", CHAT, {"authorization": "old", "x-date": "19990101T000000Z", "Content-Type": "application/json"}, b"{}"
    )
    signed = SIGNER.sign(MAAS, CREDENTIALS, request)
    assert "authorization" not in signed.headers and "x-date" not in signed.headers
    assert (
        signed.headers["Authorization"]
        == SIGNER.sign(
            MAAS, CREDENTIALS, UpstreamRequest("POST", CHAT, {"Content-Type": "application/json"}, b"{}")
        ).headers["Authorization"]
    )


def test_volc_v4_reads_the_credentials_its_params_name() -> None:
    scheme = SIGNING_SCHEMES["volc_v4"]
    assert scheme.reads(MAAS) == {"volc_access_key_id", "volc_secret_access_key", "volc_region"}
    with pytest.raises(CredentialsNotConfiguredError, match="volc_secret_access_key"):
        SIGNER.sign(MAAS, {"volc_access_key_id": ACCESS_KEY}, UpstreamRequest("POST", CHAT, {}, b"{}"))


def test_volc_v4_refuses_a_multipart_body_it_cannot_hash() -> None:
    with pytest.raises(UnsupportedFeatureError):
        SIGNER.sign(MAAS, CREDENTIALS, UpstreamRequest("POST", CHAT, {}, Multipart({}, {})))
