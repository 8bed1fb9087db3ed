"""Volcengine signature V4 (HMAC-SHA256 with an access key pair): the legacy MaaS v2 API and Volcengine OpenAPI.

The rules are the volcengine SDK's (`volcengine.auth.SignerV4`), and tests hold this signer to it on fixed inputs.
Close to AWS SigV4, but not the same: the body hash travels in an `X-Content-Sha256` header, the timestamp in
`X-Date`; only Content-Type, Content-Md5, Host and `X-*` headers are signed; the secret key is used bare (no
prefix) and the scope ends in `request`; the path is quoted as is, with no dot-segment folding.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl, quote, urlsplit

from modelyard.catalog.spec import Spec
from modelyard.errors import UnsupportedFeatureError
from modelyard.protocols.base import UpstreamRequest
from modelyard.signing.base import SigningScheme, credential
from modelyard.signing.sigv4 import as_sent

ALGORITHM = "HMAC-SHA256"
_ALWAYS_SIGNED = frozenset({"content-type", "content-md5", "host"})
_REPLACED = frozenset({"authorization", "x-date", "x-content-sha256", "x-security-token"})


class VolcV4Params(Spec):
    """A provider file's `signing:` block: service and region to sign for, and where each credential lives."""

    service: str = "ml_maas"
    region: str = "cn-beijing"  # used when the region credential is absent or empty
    region_credential: str | None = "volc_region"
    access_key_credential: str = "volc_access_key_id"
    secret_key_credential: str = "volc_secret_access_key"
    session_token_credential: str | None = None  # temporary (STS) credentials only


class VolcV4(SigningScheme):
    name = "volc_v4"
    params_model = VolcV4Params

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock  # injectable so tests can pin the timestamp

    def reads(self, params: Spec) -> frozenset[str]:
        assert isinstance(params, VolcV4Params)
        names = {params.access_key_credential, params.secret_key_credential}
        names.update(n for n in (params.region_credential, params.session_token_credential) if n)
        return frozenset(names)

    def sign(self, params: Spec, credentials: Mapping[str, str], request: UpstreamRequest) -> UpstreamRequest:
        assert isinstance(params, VolcV4Params)
        access_key = credential(credentials, params.access_key_credential) or ""
        secret_key = credential(credentials, params.secret_key_credential) or ""
        region = (params.region_credential and credentials.get(params.region_credential)) or params.region
        token = (
            credential(credentials, params.session_token_credential, optional=True)
            if params.session_token_credential
            else None
        )
        if request.body is not None and not isinstance(request.body, bytes):
            raise UnsupportedFeatureError("Volcengine V4 signs byte bodies only, not multipart forms")
        url = as_sent(request.url)
        x_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.clock()))
        body_hash = hashlib.sha256(request.body or b"").hexdigest()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _REPLACED}
        headers["X-Date"] = x_date
        headers["X-Content-Sha256"] = body_hash
        if token:
            headers["X-Security-Token"] = token
        signed = _headers_to_sign(headers, url)
        names = ";".join(name for name, _ in signed)
        canonical = "\n".join(
            (
                request.method.upper(),
                canonical_uri(url),
                canonical_query(url),
                "".join(f"{name}:{value}\n" for name, value in signed),
                names,
                body_hash,
            )
        )
        scope = f"{x_date[:8]}/{region}/{params.service}/request"
        to_sign = f"{ALGORITHM}\n{x_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = signing_key(secret_key, x_date[:8], region, params.service)
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["Authorization"] = (
            f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={names}, Signature={signature}"
        )
        return UpstreamRequest(request.method, url, headers, request.body)


def canonical_uri(url: str) -> str:
    return quote(urlsplit(url).path or "/", safe="/")


def canonical_query(url: str) -> str:
    pairs = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(pairs, key=lambda p: p[0]))


def host_of(url: str) -> str:
    """The Host header as the SDK signs it: ports 80 and 443 dropped whatever the scheme, any other kept."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{host}:{parts.port}" if parts.port not in (None, 80, 443) else host


def signing_key(secret_key: str, day: str, region: str, service: str) -> bytes:
    key = secret_key.encode()
    for part in (day, region, service, "request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _headers_to_sign(headers: Mapping[str, str], url: str) -> list[tuple[str, str]]:
    selected = {
        name.lower(): value
        for name, value in headers.items()
        if name.lower() in _ALWAYS_SIGNED or name.lower().startswith("x-")
    }
    selected.setdefault("host", host_of(url))
    return sorted(selected.items())
