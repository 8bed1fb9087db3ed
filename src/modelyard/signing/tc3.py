"""Tencent Cloud API 3.0 signing (TC3-HMAC-SHA256), for Hunyuan and ASR: a pure function of request, keys and clock.

The rules are the `tencentcloud-sdk-python` client's (`AbstractClient._get_tc3_signature`), and tests hold this
signer to it on fixed inputs: only `content-type` and `host` are signed, the query string is empty for POST, the
payload hash covers the exact body bytes, and the key is derived from the UTC date and the service name. The
protocol names the call in the `X-TC-Action` and `X-TC-Version` headers, so one scheme serves every product.

Two Tencent endpoints outside API 3.0 share a provider with it, so the scheme signs them too, told apart by the
request: Hunyuan's OpenAI-compatible API (a bearer key) and ASR flash recognition (an API 2.0-style HMAC-SHA1
over the sorted query, as Tencent's speech SDK `FlashRecognizer` signs it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl, urlsplit

from modelyard.catalog.spec import Spec
from modelyard.errors import UnsupportedFeatureError
from modelyard.protocols.base import UpstreamRequest
from modelyard.signing.base import SigningScheme, credential
from modelyard.signing.sigv4 import host_of

ALGORITHM = "TC3-HMAC-SHA256"
SIGNED_HEADERS = "content-type;host"
_REPLACED = frozenset({"authorization", "x-tc-timestamp", "x-tc-region", "x-tc-token", "host"})


class TC3Params(Spec):
    """A provider file's `signing:` block for TC3."""

    service: str  # the product's service name: `hunyuan`, `asr`
    secret_id_credential: str = "secret_id"
    secret_key_credential: str = "secret_key"
    token_credential: str | None = None  # temporary (STS) credentials only
    region: str | None = None  # X-TC-Region, for products that want one
    # Hunyuan's OpenAI-compatible endpoint takes an API key instead: a request the protocol built without an
    # X-TC-Action header carries this credential as a bearer token.
    bearer_credential: str | None = None
    # ASR flash recognition: a request to /asr/flash/ is signed by URL (secretid, timestamp, HMAC-SHA1).
    flash: bool = False


class TC3(SigningScheme):
    name = "tc3"
    params_model = TC3Params

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock  # injectable so tests can pin the timestamp

    def reads(self, params: Spec) -> frozenset[str]:
        assert isinstance(params, TC3Params)
        names = {params.secret_id_credential, params.secret_key_credential}
        names.update(name for name in (params.token_credential, params.bearer_credential) if name)
        return frozenset(names)

    def sign(self, params: Spec, credentials: Mapping[str, str], request: UpstreamRequest) -> UpstreamRequest:
        assert isinstance(params, TC3Params)
        lowered = {name.lower(): value for name, value in request.headers.items()}
        if params.flash and urlsplit(request.url).path.startswith(FLASH_PATH):
            return self._sign_flash(params, credentials, request)
        if "x-tc-action" not in lowered:
            if params.bearer_credential is None:
                raise UnsupportedFeatureError("TC3 signs Tencent Cloud API calls only (no X-TC-Action header)")
            key = credential(credentials, params.bearer_credential)
            return UpstreamRequest(
                request.method, request.url, {**request.headers, "Authorization": f"Bearer {key}"}, request.body
            )
        if request.body is not None and not isinstance(request.body, bytes):
            raise UnsupportedFeatureError("TC3 signs byte bodies only, not multipart forms")
        secret_id = credential(credentials, params.secret_id_credential) or ""
        secret_key = credential(credentials, params.secret_key_credential) or ""
        token = credential(credentials, params.token_credential, optional=True) if params.token_credential else None
        timestamp = int(self.clock())
        signature = signature_of(
            secret_key,
            service=params.service,
            method=request.method,
            url=request.url,
            content_type=lowered.get("content-type", ""),
            body=request.body or b"",
            timestamp=timestamp,
        )
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _REPLACED}
        headers["X-TC-Timestamp"] = str(timestamp)
        if params.region:
            headers["X-TC-Region"] = params.region
        if token:
            headers["X-TC-Token"] = token
        scope = credential_scope(timestamp, params.service)
        headers["Authorization"] = (
            f"{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders={SIGNED_HEADERS}, Signature={signature}"
        )
        return UpstreamRequest(request.method, request.url, headers, request.body)

    def _sign_flash(
        self, params: TC3Params, credentials: Mapping[str, str], request: UpstreamRequest
    ) -> UpstreamRequest:
        secret_id = credential(credentials, params.secret_id_credential) or ""
        secret_key = credential(credentials, params.secret_key_credential) or ""
        parts = urlsplit(request.url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        query.update(secretid=secret_id, timestamp=str(int(self.clock())))
        signed_query = flash_query(query)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        headers["Authorization"] = flash_signature(secret_key, request.method, parts.path, signed_query)
        url = f"{parts.scheme}://{parts.netloc}{parts.path}?{signed_query}"
        return UpstreamRequest(request.method, url, headers, request.body)


FLASH_PATH = "/asr/flash/"
FLASH_HOST = "asr.cloud.tencent.com"  # signed as this host whatever address is called (the speech SDK does so)


def flash_query(query: Mapping[str, str]) -> str:
    """The query sorted by key, values as they are (not URL-encoded): both the signed text and the URL's query."""
    return "&".join(f"{key}={query[key]}" for key in sorted(query))


def flash_signature(secret_key: str, method: str, path: str, signed_query: str) -> str:
    text = f"{method.upper()}{FLASH_HOST}{path}?{signed_query}"
    return base64.b64encode(hmac.new(secret_key.encode(), text.encode(), hashlib.sha1).digest()).decode()


def credential_scope(timestamp: int, service: str) -> str:
    return f"{time.strftime('%Y-%m-%d', time.gmtime(timestamp))}/{service}/tc3_request"


def signature_of(
    secret_key: str,
    *,
    service: str,
    method: str,
    url: str,
    content_type: str,
    body: bytes,
    timestamp: int,
) -> str:
    """The hex signature of one call; the fake upstream recomputes it with this same function's rules."""
    parts = urlsplit(url)
    canonical = "\n".join(
        (
            method.upper(),
            parts.path or "/",
            parts.query if method.upper() == "GET" else "",
            f"content-type:{content_type}\nhost:{host_of(url)}\n",
            SIGNED_HEADERS,
            hashlib.sha256(b"" if method.upper() == "GET" else body).hexdigest(),
        )
    )
    scope = credential_scope(timestamp, service)
    to_sign = f"{ALGORITHM}\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = f"TC3{secret_key}".encode()
    for part in (scope.split("/")[0], service, "tc3_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
