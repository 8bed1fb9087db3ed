"""AWS Signature Version 4 (Bedrock, SageMaker): a pure function of the request, the credentials and a clock.

The rules are botocore's (`botocore.auth.SigV4Auth`), and tests hold this signer to it on fixed inputs:
every header but a few hop-by-hop ones is signed, plus `host`; the canonical URI is the path URI-encoded once
more (so a model id's `:` sent as `%3A` is signed as `%253A`); the payload hash covers the exact body bytes.

A provider may offer three ways in, picked by its `auth_method` credential: an access key pair (signed here), a
Bedrock API key (sent as `Authorization: Bearer`, which botocore sends for AWS_BEARER_TOKEN_BEDROCK), or this
machine's own identity through the default credential chain (signing/aws_chain.py), whose keys the runtime
resolves and caches as an access token.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Callable, Mapping
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

import orjson
from msgspec.structs import replace
from yarl import URL

from modelyard.catalog.spec import Spec
from modelyard.errors import CredentialValidationError, UnsupportedFeatureError
from modelyard.protocols.base import UpstreamRequest
from modelyard.signing import aws_chain
from modelyard.signing.base import TokenExchange, TokenScheme, credential

ALGORITHM = "AWS4-HMAC-SHA256"
# Headers botocore leaves out of the signature: proxies and HTTP clients may add, drop or rewrite them.
UNSIGNED_HEADERS = frozenset(
    {
        "authorization",
        "baggage",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "traceparent",
        "tracestate",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
    }
)
_REPLACED = frozenset({"authorization", "x-amz-date", "x-amz-security-token"})


AuthMethod = Literal["access_key", "api_key", "default_chain"]
AUTH_METHODS: tuple[AuthMethod, ...] = ("access_key", "api_key", "default_chain")


class SigV4Params(Spec):
    """A provider file's `signing:` block: the service to sign for and where each credential lives."""

    service: str  # the signing name: `bedrock` for bedrock-runtime, `sagemaker` for runtime.sagemaker
    access_key_credential: str = "aws_access_key_id"
    secret_key_credential: str = "aws_secret_access_key"
    session_token_credential: str | None = "aws_session_token"  # optional: temporary (STS) credentials only
    region_credential: str = "aws_region"
    # The credential choosing among AUTH_METHODS (absent or empty: access_key); None: key pairs only.
    auth_method_credential: str | None = None
    api_key_credential: str | None = None  # the API key sent as a bearer token (auth method api_key)


class SigV4(TokenScheme):
    name = "sigv4"
    params_model = SigV4Params

    def __init__(self, clock: Callable[[], float] = time.time, environ: Mapping[str, str] | None = None) -> None:
        self.clock = clock  # injectable so tests can pin the timestamp
        self.environ = environ  # the default chain's environment: os.environ, read at each resolution, when None

    def reads(self, params: Spec) -> frozenset[str]:
        assert isinstance(params, SigV4Params)
        names = {params.access_key_credential, params.secret_key_credential, params.region_credential}
        optional = (params.session_token_credential, params.auth_method_credential, params.api_key_credential)
        return frozenset(names | {name for name in optional if name})

    def method(self, params: SigV4Params, credentials: Mapping[str, str]) -> AuthMethod:
        if params.auth_method_credential is None:
            return "access_key"
        chosen = credentials.get(params.auth_method_credential) or "access_key"
        for method in AUTH_METHODS:
            if chosen == method and (method != "api_key" or params.api_key_credential):
                return method
        raise CredentialValidationError(
            f"{params.auth_method_credential} must be one of: {', '.join(AUTH_METHODS)}",
            field=params.auth_method_credential,
        )

    def needs_token(self, params: Spec, credentials: Mapping[str, str]) -> bool:
        assert isinstance(params, SigV4Params)
        return self.method(params, credentials) == "default_chain"

    def machine_identity_field(self, params: Spec, credentials: Mapping[str, str]) -> str | None:
        assert isinstance(params, SigV4Params)
        return params.auth_method_credential if self.needs_token(params, credentials) else None

    def exchange(self, params: Spec, credentials: Mapping[str, str], now: float) -> TokenExchange:
        assert isinstance(params, SigV4Params)
        return aws_chain.resolve(params.service, os.environ if self.environ is None else self.environ, now)

    def sign(self, params: Spec, credentials: Mapping[str, str], request: UpstreamRequest) -> UpstreamRequest:
        assert isinstance(params, SigV4Params)
        if self.method(params, credentials) == "api_key":
            assert params.api_key_credential is not None  # `method` allows api_key only with one
            return bearer(request, credential(credentials, params.api_key_credential) or "")
        access_key = credential(credentials, params.access_key_credential) or ""
        secret_key = credential(credentials, params.secret_key_credential) or ""
        token = (
            credential(credentials, params.session_token_credential, optional=True)
            if params.session_token_credential
            else None
        )
        return self.signed(request, params.service, _region(params, credentials), access_key, secret_key, token)

    def sign_with_token(
        self, params: Spec, credentials: Mapping[str, str], request: UpstreamRequest, token: str
    ) -> UpstreamRequest:
        """Sign with what the default chain resolved (a key pair, or the service's bearer token)."""
        assert isinstance(params, SigV4Params)
        resolved = orjson.loads(token)
        if "bearer" in resolved:
            return bearer(request, resolved["bearer"])
        return self.signed(
            request,
            params.service,
            _region(params, credentials),
            resolved["access_key"],
            resolved["secret_key"],
            resolved["session_token"],
        )

    def signed(
        self,
        request: UpstreamRequest,
        service: str,
        region: str,
        access_key: str,
        secret_key: str,
        token: str | None,
    ) -> UpstreamRequest:
        if request.body is not None and not isinstance(request.body, bytes):
            raise UnsupportedFeatureError("SigV4 signs byte bodies only, not multipart forms")
        url = as_sent(request.url)
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.clock()))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _REPLACED}
        headers["X-Amz-Date"] = amz_date
        if token:
            headers["X-Amz-Security-Token"] = token
        signed = _headers_to_sign(headers, url)
        canonical = "\n".join(
            (
                request.method.upper(),
                canonical_uri(url),
                canonical_query(url),
                "".join(f"{name}:{value}\n" for name, value in signed),
                ";".join(name for name, _ in signed),
                hashlib.sha256(request.body or b"").hexdigest(),
            )
        )
        scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
        to_sign = f"{ALGORITHM}\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = _signing_key(secret_key, amz_date[:8], region, service)
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["Authorization"] = (
            f"{ALGORITHM} Credential={access_key}/{scope}, "
            f"SignedHeaders={';'.join(name for name, _ in signed)}, Signature={signature}"
        )
        return replace(request, url=url, headers=headers)


def bearer(request: UpstreamRequest, token: str) -> UpstreamRequest:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _REPLACED}
    return replace(request, headers={**headers, "Authorization": f"Bearer {token}"})


def _region(params: SigV4Params, credentials: Mapping[str, str]) -> str:
    return credential(credentials, params.region_credential) or ""


def as_sent(url: str) -> str:
    """The URL as aiohttp puts it on the wire: it re-quotes every URL it is given (yarl), which turns the `%3A`
    of a Bedrock model id back into `:`. Signing the URL we built rather than the one sent gives AWS's
    `InvalidSignatureException` for every model id with a `:`. Re-quoting is idempotent, so this URL is sent
    unchanged whether or not the client re-quotes it once more."""
    return str(URL(url))


def canonical_uri(url: str) -> str:
    """The path, dot segments and empty segments removed, URI-encoded once more (all services but S3)."""
    return quote(_normalized_path(urlsplit(url).path), safe="/~")


def canonical_query(url: str) -> str:
    query = urlsplit(url).query
    if not query:
        return ""
    pairs = []
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        pairs.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{key}={value}" for key, value in sorted(pairs))


def host_of(url: str) -> str:
    """The Host header value: lower-case, without userinfo, with the port only when it is not the default."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if parts.port is not None and parts.port != {"http": 80, "https": 443}.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def _headers_to_sign(headers: Mapping[str, str], url: str) -> list[tuple[str, str]]:
    selected = {name.lower(): " ".join(value.split()) for name, value in headers.items()}
    selected = {name: value for name, value in selected.items() if name not in UNSIGNED_HEADERS}
    selected.setdefault("host", host_of(url))
    return sorted(selected.items())


def _normalized_path(path: str) -> str:
    if not path:
        return "/"
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    trailing = "/" if path.endswith("/") and segments else ""
    return ("/" if path.startswith("/") else "") + "/".join(segments) + trailing


def _signing_key(secret_key: str, day: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret_key}".encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key
