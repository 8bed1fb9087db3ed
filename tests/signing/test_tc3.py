"""TC3 held to tencentcloud-sdk-python's own signer: same inputs and a frozen clock give the same headers."""

from __future__ import annotations

import datetime
import json
from typing import Any
from unittest.mock import patch

import pytest
from tencentcloud.asr.v20190614 import asr_client
from tencentcloud.common import credential
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.common.sign import Sign
from tencentcloud.hunyuan.v20230901 import hunyuan_client

from modelyard.errors import CredentialsNotConfiguredError, UnsupportedFeatureError
from modelyard.protocols.base import UpstreamRequest
from modelyard.signing import SIGNING_SCHEMES
from modelyard.signing.tc3 import TC3, TC3Params

NOW = datetime.datetime(2026, 11, 28, 23, 59, 58, tzinfo=datetime.UTC)  # a date boundary is near: UTC must win
SECRET_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
SECRET_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
TOKEN = "temporary-session-token"
SIGNER = TC3(clock=NOW.timestamp)


def sdk_headers(
    client_class: Any, action: str, params: dict[str, Any], *, region: str, endpoint: str | None, token: str | None
) -> tuple[dict[str, str], bytes, str]:
    """The headers and body the SDK builds for one call at NOW, and the host it sends them to."""
    profile = ClientProfile(httpProfile=HttpProfile(endpoint=endpoint))
    client = client_class(credential.Credential(SECRET_ID, SECRET_KEY, token), region, profile)
    request = RequestInternal(client._get_endpoint(), "POST", "/")
    with patch("tencentcloud.common.abstract_client.time.time", NOW.timestamp):
        client._build_req_inter(action, params, request)
    return request.header, request.data.encode(), client._get_endpoint()


CASES = [
    pytest.param(
        hunyuan_client.HunyuanClient,
        TC3Params(service="hunyuan"),
        "ChatCompletions",
        "2023-09-01",
        {"Model": "hunyuan-turbos-latest", "Messages": [{"Role": "user", "Content": "你好"}], "Stream": False},
        "",
        None,
        None,
        id="hunyuan-chat-no-region",
    ),
    pytest.param(
        hunyuan_client.HunyuanClient,
        TC3Params(service="hunyuan", region="ap-guangzhou"),
        "GetEmbedding",
        "2023-09-01",
        {"InputList": ["a", "b"]},
        "ap-guangzhou",
        None,
        None,
        id="hunyuan-embedding-with-region",
    ),
    pytest.param(
        asr_client.AsrClient,
        TC3Params(service="asr", region="ap-shanghai", token_credential="token"),
        "SentenceRecognition",
        "2019-06-14",
        {"EngSerViceType": "16k_zh", "SourceType": 1, "VoiceFormat": "wav", "Data": "UklGRg==", "DataLen": 4},
        "ap-shanghai",
        None,
        TOKEN,
        id="asr-with-region-and-token",
    ),
    pytest.param(
        asr_client.AsrClient,
        TC3Params(service="asr"),
        "SentenceRecognition",
        "2019-06-14",
        {"EngSerViceType": "8k_zh", "SourceType": 1, "VoiceFormat": "mp3", "Data": "", "DataLen": 0},
        "",
        "127.0.0.1:8443",
        None,
        id="asr-on-a-host-with-a-port",
    ),
]


@pytest.mark.parametrize(("client_class", "params", "action", "version", "body", "region", "endpoint", "token"), CASES)
def test_tc3_signs_exactly_as_the_sdk(client_class, params, action, version, body, region, endpoint, token) -> None:
    theirs, payload, host = sdk_headers(client_class, action, body, region=region, endpoint=endpoint, token=token)
    request = UpstreamRequest(
        "POST",
        f"https://{host}/",
        {"Content-Type": "application/json", "X-TC-Action": action, "X-TC-Version": version},
        payload,
    )
    credentials = {"secret_id": SECRET_ID, "secret_key": SECRET_KEY, "token": token or ""}

    ours = SIGNER.sign(params, credentials, request).headers

    assert ours["Authorization"] == theirs["Authorization"]
    for header in ("X-TC-Action", "X-TC-Version", "X-TC-Timestamp", "Content-Type"):
        assert ours[header] == theirs[header], header
    assert ours.get("X-TC-Region") == theirs.get("X-TC-Region")
    assert ours.get("X-TC-Token") == theirs.get("X-TC-Token")


def test_tc3_signature_covers_the_body_bytes() -> None:
    params = TC3Params(service="hunyuan")
    credentials = {"secret_id": SECRET_ID, "secret_key": SECRET_KEY}
    headers = {"Content-Type": "application/json", "X-TC-Action": "ChatCompletions", "X-TC-Version": "2023-09-01"}
    compact = SIGNER.sign(params, credentials, UpstreamRequest("POST", "https://h.test/", headers, b'{"A":1}'))
    spaced = SIGNER.sign(params, credentials, UpstreamRequest("POST", "https://h.test/", headers, b'{"A": 1}'))
    assert compact.headers["Authorization"] != spaced.headers["Authorization"]
    assert json.loads(compact.body) == json.loads(spaced.body)  # type: ignore[arg-type]


def test_tc3_without_an_action_signs_with_the_bearer_key_when_the_provider_has_one() -> None:
    request = UpstreamRequest("POST", "https://api.hunyuan.test/v1/chat/completions", {}, b"{}")
    signed = SIGNER.sign(TC3Params(service="hunyuan", bearer_credential="api_key"), {"api_key": "k-1"}, request)
    assert signed.headers == {"Authorization": "Bearer k-1"}
    with pytest.raises(UnsupportedFeatureError):
        SIGNER.sign(TC3Params(service="asr"), {"api_key": "k-1"}, request)


def test_tc3_names_the_missing_credential() -> None:
    headers = {"Content-Type": "application/json", "X-TC-Action": "SentenceRecognition", "X-TC-Version": "2019-06-14"}
    with pytest.raises(CredentialsNotConfiguredError, match="secret_key"):
        SIGNER.sign(TC3Params(service="asr"), {"secret_id": SECRET_ID}, UpstreamRequest("POST", "https://a/", headers))


def test_tc3_is_registered_and_reads_its_credentials() -> None:
    scheme = SIGNING_SCHEMES["tc3"]
    params = TC3Params(service="hunyuan", bearer_credential="api_key")
    assert scheme.reads(params) == {"secret_id", "secret_key", "api_key"}


def test_flash_url_signature_is_hmac_sha1_of_the_sorted_query_as_the_speech_sdk_signs_it() -> None:
    params = TC3Params(service="asr", flash=True)
    request = UpstreamRequest(
        "POST",
        "https://asr.cloud.tencent.com/asr/flash/v1/1259220000?voice_format=mp3&engine_type=16k_zh_large",
        {"Content-Type": "application/octet-stream"},
        b"audio",
    )
    signed = SIGNER.sign(params, {"secret_id": SECRET_ID, "secret_key": SECRET_KEY}, request)

    timestamp = int(NOW.timestamp())
    query = f"engine_type=16k_zh_large&secretid={SECRET_ID}&timestamp={timestamp}&voice_format=mp3"
    # The speech SDK's FlashRecognizer text, signed with the main SDK's own HMAC-SHA1 + base64 helper.
    expected = Sign.sign(SECRET_KEY, f"POSTasr.cloud.tencent.com/asr/flash/v1/1259220000?{query}", "HmacSHA1")
    assert signed.headers["Authorization"] == expected
    assert signed.url == f"https://asr.cloud.tencent.com/asr/flash/v1/1259220000?{query}"
    assert signed.body == b"audio"


def test_flash_signs_the_vendor_host_whatever_address_is_called() -> None:
    params = TC3Params(service="asr", flash=True)
    credentials = {"secret_id": SECRET_ID, "secret_key": SECRET_KEY}
    path = "/asr/flash/v1/1?engine_type=16k_zh&voice_format=wav"
    direct = SIGNER.sign(params, credentials, UpstreamRequest("POST", f"https://asr.cloud.tencent.com{path}", {}))
    proxied = SIGNER.sign(params, credentials, UpstreamRequest("POST", f"http://127.0.0.1:9000{path}", {}))
    assert direct.headers["Authorization"] == proxied.headers["Authorization"]


def test_flash_paths_are_left_to_tc3_when_the_provider_has_no_flash() -> None:
    request = UpstreamRequest("POST", "https://asr.cloud.tencent.com/asr/flash/v1/1?engine_type=16k_zh", {})
    with pytest.raises(UnsupportedFeatureError):
        SIGNER.sign(TC3Params(service="asr"), {"secret_id": SECRET_ID, "secret_key": SECRET_KEY}, request)
