"""The Spark URL signature, held to the recipe of iFlytek's URL-auth doc on fixed inputs and a frozen clock."""

from __future__ import annotations

import base64
import hashlib
import hmac
from calendar import timegm
from urllib.parse import parse_qs, urlsplit

import pytest

from modelyard.errors import CredentialsNotConfiguredError
from modelyard.protocols.base import UpstreamRequest
from modelyard.signing import SIGNING_SCHEMES
from modelyard.signing.spark_url import SparkURL, SparkUrlParams, authorization, signature

# The doc's worked example (xfyun.cn 通用URL鉴权文档): its authorization_origin and the base64 it prints.
DOC_API_KEY = "addd2272b6d8b7c8abdd79531420ca3b"
DOC_SIGNATURE = "z5gHdu3pxVV4ADMyk467wOWDQ9q6BQzR3nfMTjc/DaQ="
DOC_AUTHORIZATION = (
    "YXBpX2tleT0iYWRkZDIyNzJiNmQ4YjdjOGFiZGQ3OTUzMTQyMGNhM2IiLCBhbGdvcml0aG09ImhtYWMtc2hhMjU2IiwgaGVhZGVycz0iaG9zdCBk"
    "YXRlIHJlcXVlc3QtbGluZSIsIHNpZ25hdHVyZT0iejVnSGR1M3B4VlY0QURNeWs0Njd3T1dEUTlxNkJRelIzbmZNVGpjL0RhUT0i"
)
DOC_DATE = "Fri, 05 May 2023 10:43:39 GMT"
FROZEN = float(timegm((2023, 5, 5, 10, 43, 39, 0, 0, 0)))
KEY, SECRET_ = "4d93903f9f27810a446161efe68a153e", "Njg5NjhiMDRmMGJmNWM2MDNlMmJlOGVi"
CREDENTIALS = {"api_key": KEY, "api_secret": SECRET_, "api_password": "pw-123456"}


def recipe(url: str, date: str) -> dict[str, str]:
    """The doc's steps, written out independently of the scheme: what the query must hold."""
    parts = urlsplit(url)
    signed = f"host: {parts.netloc}\ndate: {date}\nGET {parts.path} HTTP/1.1"
    digest = hmac.new(SECRET_.encode(), signed.encode(), hashlib.sha256).digest()
    origin = (
        f'api_key="{KEY}", algorithm="hmac-sha256", headers="host date request-line", '
        f'signature="{base64.b64encode(digest).decode()}"'
    )
    return {"authorization": base64.b64encode(origin.encode()).decode(), "date": date, "host": parts.netloc}


def sign(url: str, credentials: dict[str, str] = CREDENTIALS) -> UpstreamRequest:
    return SparkURL(clock=lambda: FROZEN).sign(SparkUrlParams(), credentials, UpstreamRequest("GET", url, {}))


def test_authorization_is_the_base64_of_the_documented_origin_line() -> None:
    assert authorization(DOC_API_KEY, DOC_SIGNATURE) == DOC_AUTHORIZATION


@pytest.mark.parametrize(
    "url",
    [
        "wss://spark-api.xf-yun.com/v1.1/chat",
        "wss://spark-api.xf-yun.com/v3.5/chat",
        "wss://spark-api.xf-yun.com/chat/max-32k",
        "ws://127.0.0.1:8123/v4.0/chat",
    ],
)
def test_the_signed_url_carries_what_the_recipe_computes_at_the_frozen_date(url: str) -> None:
    signed = sign(url)
    parts = urlsplit(signed.url)
    assert parts.scheme + "://" + parts.netloc + parts.path == url
    assert {k: v[0] for k, v in parse_qs(parts.query).items()} == recipe(url, DOC_DATE)


def test_the_date_is_rfc_1123_gmt_and_form_encoded_in_the_query() -> None:
    query = urlsplit(sign("wss://spark-api.xf-yun.com/v3.5/chat").url).query
    assert "date=Fri%2C+05+May+2023+10%3A43%3A39+GMT" in query
    assert query.startswith("authorization=") and query.endswith("&host=spark-api.xf-yun.com")


def test_the_signature_covers_host_date_and_request_line() -> None:
    base = signature(SECRET_, "spark-api.xf-yun.com", DOC_DATE, "GET /v3.5/chat HTTP/1.1")
    assert base != signature(SECRET_, "spark-api.xf-yun.com", DOC_DATE, "GET /v4.0/chat HTTP/1.1")
    assert base != signature(
        SECRET_, "spark-api.xf-yun.com", "Fri, 05 May 2023 10:43:40 GMT", "GET /v3.5/chat HTTP/1.1"
    )
    assert base != signature(SECRET_, "spark-api.xf-yun.com:443", DOC_DATE, "GET /v3.5/chat HTTP/1.1")


def test_the_http_endpoint_gets_the_api_password_as_a_bearer_and_an_untouched_url() -> None:
    url = "https://spark-api-open.xf-yun.com/v1/chat/completions"
    signed = SparkURL().sign(SparkUrlParams(), CREDENTIALS, UpstreamRequest("POST", url, {}, b"{}"))
    assert signed.url == url
    assert signed.headers["Authorization"] == "Bearer pw-123456"
    assert signed.body == b"{}"


def test_each_wire_names_the_credential_it_lacks() -> None:
    with pytest.raises(CredentialsNotConfiguredError, match="api_secret"):
        sign("wss://spark-api.xf-yun.com/v3.5/chat", {"api_key": KEY})
    with pytest.raises(CredentialsNotConfiguredError, match="api_password"):
        SparkURL().sign(SparkUrlParams(), {"api_key": KEY}, UpstreamRequest("POST", "https://x/v1", {}))


def test_the_scheme_is_registered_and_reads_every_credential_it_may_use() -> None:
    scheme = SIGNING_SCHEMES["spark_url"]
    assert scheme.reads(SparkUrlParams()) == {"api_key", "api_secret", "api_password"}
