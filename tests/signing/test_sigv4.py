"""SigV4 held to botocore's own signer: same inputs and a frozen clock give the same Authorization header."""

from __future__ import annotations

import datetime
from unittest.mock import patch

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from modelyard.errors import CredentialsNotConfiguredError, UnsupportedFeatureError
from modelyard.protocols.base import Multipart, UpstreamRequest
from modelyard.signing import SIGNING_SCHEMES
from modelyard.signing.sigv4 import SigV4, SigV4Params, as_sent, canonical_uri

NOW = datetime.datetime(2026, 11, 28, 9, 30, 15, tzinfo=datetime.UTC)
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//session+token="
CREDENTIALS = {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY, "aws_region": "us-east-1"}
BEDROCK = SigV4Params(service="bedrock")
SIGNER = SigV4(clock=NOW.timestamp)


def botocore_authorization(request: UpstreamRequest, *, service: str, region: str, token: str | None) -> dict[str, str]:
    """What botocore's SigV4Auth puts on the same request at the same instant."""
    aws = AWSRequest(method=request.method, url=request.url, headers=dict(request.headers), data=request.body)
    with patch("botocore.auth.get_current_datetime", lambda: NOW.replace(tzinfo=None)):
        SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY, token), service, region).add_auth(aws)
    return {k.lower(): v for k, v in aws.headers.items()}


CASES = [
    pytest.param(
        UpstreamRequest(
            "POST",
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.titan-embed-text-v1/invoke",
            {"Content-Type": "application/json", "Accept": "application/json"},
            b'{"inputText": "hello"}',
        ),
        "us-east-1",
        None,
        id="invoke-without-colon",
    ),
    pytest.param(
        UpstreamRequest(
            "POST",
            "https://bedrock-runtime.eu-west-1.amazonaws.com/model/eu.anthropic.claude-sonnet-4-5-20250929-v1:0/converse",
            {"Content-Type": "application/json"},
            b'{"messages": [{"role": "user", "content": [{"text": "Hi"}]}]}',
        ),
        "eu-west-1",
        TOKEN,
        id="model-id-with-colon-and-session-token",
    ),
    pytest.param(
        UpstreamRequest(
            "POST",
            "https://bedrock-runtime.us-west-2.amazonaws.com/model/"
            "arn:aws:bedrock:us-west-2:123456789012:inference-profile%2Fus.amazon.nova-pro-v1:0/converse-stream",
            {"Content-Type": "application/json", "X-Custom": "  two   spaces  "},
            b"{}",
        ),
        "us-west-2",
        TOKEN,
        id="arn-with-encoded-slash",
    ),
    pytest.param(
        UpstreamRequest("GET", "https://runtime.sagemaker.ap-south-1.amazonaws.com/ping?b=2&a=1", {}, None),
        "ap-south-1",
        None,
        id="query-string-and-empty-body",
    ),
]


@pytest.mark.parametrize(("request_", "region", "token"), CASES)
def test_sigv4_matches_botocores_signer_on_fixed_inputs(
    request_: UpstreamRequest, region: str, token: str | None
) -> None:
    credentials = {**CREDENTIALS, "aws_region": region} | ({"aws_session_token": token} if token else {})

    signed = SIGNER.sign(BEDROCK, credentials, request_)

    expected = botocore_authorization(request_, service="bedrock", region=region, token=token)
    assert signed.headers["Authorization"] == expected["authorization"]
    assert signed.headers["X-Amz-Date"] == "20261128T093015Z"
    assert signed.headers.get("X-Amz-Security-Token") == token
    assert signed.body == request_.body


def test_sigv4_signs_the_path_aiohttp_sends_not_the_one_built() -> None:
    """aiohttp re-quotes URLs, so a botocore-style `%3A` leaves as `:`; the signature must cover that path."""
    built = UpstreamRequest(
        "POST",
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-opus-4-6-v1%3A0/converse",
        {"Content-Type": "application/json"},
        b"{}",
    )

    signed = SIGNER.sign(BEDROCK, CREDENTIALS, built)

    assert signed.url == "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-opus-4-6-v1:0/converse"
    assert canonical_uri(signed.url) == "/model/anthropic.claude-opus-4-6-v1%3A0/converse"
    as_botocore_would_sign_it = UpstreamRequest(built.method, signed.url, built.headers, built.body)
    expected = botocore_authorization(as_botocore_would_sign_it, service="bedrock", region="us-east-1", token=None)
    assert signed.headers["Authorization"] == expected["authorization"]
    assert as_sent(signed.url) == signed.url  # signing twice, or re-quoting again, changes nothing


def test_botocores_double_encoding_of_the_model_id_is_what_a_literal_percent_gets() -> None:
    # botocore sends `%3A` and signs `%253A`; a path that really carries `%25` is signed the same way here.
    request = UpstreamRequest("POST", "https://h.example/model/a%253A0/converse", {}, b"")
    assert canonical_uri(SIGNER.sign(BEDROCK, CREDENTIALS, request).url) == "/model/a%25253A0/converse"


def test_sigv4_signs_for_the_configured_service_and_region() -> None:
    request = UpstreamRequest(
        "POST", "https://runtime.sagemaker.eu-central-1.amazonaws.com/endpoints/e/invocations", {}, b"{}"
    )
    credentials = {**CREDENTIALS, "aws_region": "eu-central-1"}

    signed = SIGNER.sign(SigV4Params(service="sagemaker"), credentials, request)

    expected = botocore_authorization(request, service="sagemaker", region="eu-central-1", token=None)
    assert signed.headers["Authorization"] == expected["authorization"]
    assert "/20261128/eu-central-1/sagemaker/aws4_request" in signed.headers["Authorization"]


def test_sigv4_replaces_a_stale_signature_and_leaves_user_agent_unsigned() -> None:
    request = UpstreamRequest(
        "POST",
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse",
        {"authorization": "old", "x-amz-date": "19990101T000000Z", "User-Agent": "modelyard/1"},
        b"{}",
    )

    signed = SIGNER.sign(BEDROCK, CREDENTIALS, request)

    assert "authorization" not in signed.headers and "x-amz-date" not in signed.headers
    assert "SignedHeaders=host;x-amz-date," in signed.headers["Authorization"]


def test_sigv4_reads_the_credentials_its_params_name() -> None:
    scheme = SIGNING_SCHEMES["sigv4"]
    assert scheme.reads(BEDROCK) == {"aws_access_key_id", "aws_secret_access_key", "aws_region", "aws_session_token"}
    with pytest.raises(CredentialsNotConfiguredError, match="aws_secret_access_key"):
        SIGNER.sign(BEDROCK, {"aws_access_key_id": ACCESS_KEY, "aws_region": "us-east-1"}, CASES[0].values[0])


def test_sigv4_refuses_a_multipart_body_it_cannot_hash() -> None:
    request = UpstreamRequest("POST", "https://h.example/x", {}, Multipart({}, {}))
    with pytest.raises(UnsupportedFeatureError):
        SIGNER.sign(BEDROCK, CREDENTIALS, request)
