"""iFlytek's URL signature (Spark's WebSocket API): HMAC-SHA256 over host, date and request line, in the query.

The recipe (xfyun.cn "通用URL鉴权文档", 2026-11): sign "host: <host>\\ndate: <RFC 1123 date>\\nGET <path> HTTP/1.1"
with APISecret; `authorization` is the base64 of `api_key="…", algorithm="hmac-sha256", headers="host date
request-line", signature="<base64 HMAC>"`; `authorization`, `date` and `host` go in the query, form-encoded.
Spark's OpenAI-compatible HTTP endpoint takes none of that: a bearer APIPassword. The URL's scheme says which.
"""

from __future__ import annotations

import hmac
import time
from base64 import b64encode
from collections.abc import Callable, Mapping
from email.utils import formatdate
from urllib.parse import urlencode, urlsplit

from modelyard.catalog.spec import Spec
from modelyard.protocols.base import UpstreamRequest
from modelyard.signing.base import SigningScheme, credential


class SparkUrlParams(Spec):
    api_key: str = "api_key"  # the credential variables that hold each value
    api_secret: str = "api_secret"
    api_password: str = "api_password"  # for the HTTP endpoint


class SparkURL(SigningScheme):
    name = "spark_url"
    params_model = SparkUrlParams

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock  # injectable so tests can pin the date

    def reads(self, params: Spec) -> frozenset[str]:
        assert isinstance(params, SparkUrlParams)
        return frozenset({params.api_key, params.api_secret, params.api_password})

    def sign(self, params: Spec, credentials: Mapping[str, str], request: UpstreamRequest) -> UpstreamRequest:
        assert isinstance(params, SparkUrlParams)
        if urlsplit(request.url).scheme in ("http", "https"):
            password = credential(credentials, params.api_password)
            headers = {**request.headers, "Authorization": f"Bearer {password}"}
            return UpstreamRequest(request.method, request.url, headers, request.body)
        key = credential(credentials, params.api_key)
        secret = credential(credentials, params.api_secret)
        assert key is not None and secret is not None
        url = signed_url(request.url, key, secret, formatdate(self.clock(), usegmt=True), method=request.method)
        return UpstreamRequest(request.method, url, request.headers, request.body)


def signature(secret: str, host: str, date: str, request_line: str) -> str:
    signed = f"host: {host}\ndate: {date}\n{request_line}"
    return b64encode(hmac.digest(secret.encode(), signed.encode(), "sha256")).decode()


def authorization(api_key: str, signature_b64: str) -> str:
    origin = (
        f'api_key="{api_key}", algorithm="hmac-sha256", headers="host date request-line", signature="{signature_b64}"'
    )
    return b64encode(origin.encode()).decode()


def signed_url(url: str, api_key: str, secret: str, date: str, *, method: str = "GET") -> str:
    """`url` with the `authorization`, `date` and `host` query parameters that sign it at `date`."""
    parts = urlsplit(url)
    request_line = f"{method} {parts.path} HTTP/1.1"
    query = {
        "authorization": authorization(api_key, signature(secret, parts.netloc, date, request_line)),
        "date": date,
        "host": parts.netloc,
    }
    return parts._replace(query=urlencode(query)).geturl()
