"""What Bedrock Runtime and SageMaker Runtime share: rest-json errors, exceptions inside event streams, paths.

Error facts are the botocore 1.44.8 service models (`bedrock-runtime` 2023-09-30, `sagemaker-runtime`
2017-05-13): each exception shape names its HTTP status; the AWS front end adds the signature and credential
errors (UnrecognizedClientException, InvalidSignatureException, ExpiredTokenException ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
from pydantic import Field

from modelyard.catalog.spec import Spec
from modelyard.errors import (
    CredentialValidationError,
    UpstreamAuthError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from modelyard.protocols.base import Target
from modelyard.protocols.errors import Where, error_for_status, redact, retry_after_s, upstream_message
from modelyard.protocols.sse import ServerSentEvent


class AWSQuirks(Spec):
    # A credential that, when filled, replaces the regional endpoint (VPC/PrivateLink endpoints, FIPS, a proxy).
    # The catalog's base_url cannot fall back from one template to another, so the protocol does it.
    endpoint_credential: str | None = None
    # A credential naming an HTTP(S) forward proxy every request goes through (`host:port` means http://).
    proxy_credential: str | None = None
    region_credential: str = "aws_region"
    # Bedrock cross-Region inference: the profile prefix of the geography a region belongs to, by region prefix
    # (longest first wins), and the regions the Japan profiles (`jp.`) may be called from.
    geographic_profiles: dict[str, str] = Field(default_factory=dict)
    japan_regions: tuple[str, ...] = ()
    # Where the agent-runtime API (Rerank) lives; `{variable}` filled from the credentials like base_url.
    agent_base_url: str | None = None


def quirks_of(target: Target) -> AWSQuirks:
    quirks = target.quirks
    return quirks if isinstance(quirks, AWSQuirks) else AWSQuirks()


def endpoint(target: Target) -> str:
    quirks = quirks_of(target)
    if quirks.endpoint_credential:
        override = target.credentials.get(quirks.endpoint_credential)
        if override:
            return override.rstrip("/")
    return target.base_url


def proxy(target: Target) -> str | None:
    """The proxy URL the credentials name, as aiohttp takes it; None when they name none."""
    quirks = quirks_of(target)
    raw = (target.credentials.get(quirks.proxy_credential) or "").strip() if quirks.proxy_credential else ""
    if not raw:
        return None
    url = raw if "://" in raw else f"http://{raw}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise CredentialValidationError(
            f"{quirks.proxy_credential} must be a proxy address such as http://proxy.example:3128 or "
            "proxy.example:3128",
            field=quirks.proxy_credential,
        )
    return url.rstrip("/")


def path_segment(value: str) -> str:
    """A URI label as botocore renders it: everything but `-_.~` percent-encoded (`:` → %3A, `/` → %2F)."""
    return quote(value, safe="-_.~")


# Exceptions whose status says less than their name: a model failing or warming up is the provider's fault
# and worth another try, whatever 4xx AWS put on it.
_UNAVAILABLE = frozenset(
    {
        "ModelErrorException",  # 424: the model failed to process the request
        "ModelStreamErrorException",  # 424, mid-stream
        "ModelNotReadyException",  # 429: the model is being loaded; botocore retries it, not as throttling
        "ModelError",  # SageMaker 424: the container answered with an error
        "ModelStreamError",  # SageMaker, mid-stream: ModelInvocationTimeExceeded or StreamBroken
        "InternalStreamFailure",
        "InternalDependencyException",  # SageMaker 530
    }
)
_AUTH = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "MissingAuthenticationTokenException",
        "IncompleteSignatureException",
    }
)
_RATE_LIMITED = frozenset({"ThrottlingException", "ServiceQuotaExceededException", "TooManyRequestsException"})
_TIMED_OUT = frozenset({"ModelTimeoutException"})

# The status each exception that may arrive inside an HTTP 200 event stream would have had on its own.
STREAM_EXCEPTION_STATUS: Mapping[str, int] = {
    "InternalServerException": 500,
    "ModelStreamErrorException": 424,
    "ValidationException": 400,
    "ThrottlingException": 429,
    "ServiceUnavailableException": 503,
    "ServiceQuotaExceededException": 400,
    "ModelTimeoutException": 408,
    "ModelStreamError": 424,  # SageMaker
    "InternalStreamFailure": 500,  # SageMaker
}


def aws_error(
    target: Target,
    status: int,
    code: str | None,
    message: str,
    headers: Mapping[str, str] | None = None,
    *,
    where: Where = "status",
) -> UpstreamError:
    """The error for an AWS exception, by its name first where the name says more than the status."""
    provider = target.provider.id
    secrets = [value for key, value in target.credentials.items() if key in target.provider.secret_variables()]
    message = redact(message, secrets)

    def text(what: str) -> str:
        if where == "status":
            return f"{what}: {code}: {message} (HTTP {status})" if code else f"{what}: {message} (HTTP {status})"
        return upstream_message(what, message, status, code, where=where)

    if code in _UNAVAILABLE:
        return UpstreamUnavailableError(
            text("the model failed"), provider=provider, status_code=status, vendor_code=code
        )
    if code in _AUTH:
        return UpstreamAuthError(text("credentials refused"), provider=provider, status_code=status, vendor_code=code)
    if code in _RATE_LIMITED:
        return UpstreamRateLimitError(
            text("rate limited"),
            provider=provider,
            status_code=status,
            vendor_code=code,
            retry_after_s=retry_after_s(headers or {}),
        )
    if code in _TIMED_OUT:
        return UpstreamTimeoutError(
            text("the model timed out"), provider=provider, status_code=status, vendor_code=code
        )
    return error_for_status(provider=provider, status=status, message=message, code=code, headers=headers, where=where)


def parse_error(target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
    """A rest-json error: the code from `x-amzn-ErrorType` (`Code:namespace`) or the body's `__type`."""
    data = _json_object(body)
    raw = _header(headers, "x-amzn-errortype").split(":", 1)[0] or str(data.get("__type") or "")
    code = raw.rsplit("#", 1)[-1] or None  # `__type` may be `com.amazon.coral...#ValidationException`
    message = str(data.get("message") or data.get("Message") or body[:300].decode("utf-8", "replace"))
    original = data.get("OriginalMessage")  # SageMaker ModelError: what the container itself said
    if original:
        message = f"{message} (the container said: {str(original)[:300]})"
    return aws_error(target, status, code, message, headers)


def stream_exception(target: Target, event: ServerSentEvent) -> UpstreamError:
    """An `exception` (or `error`) message inside an HTTP 200 event stream, as the error it names."""
    name = event.event or "InternalServerException"
    code = name[:1].upper() + name[1:]  # ConverseStream members are camelCase: throttlingException
    data = _json_object(event.data)
    message = str(data.get("message") or data.get("Message") or event.data[:300].decode("utf-8", "replace"))
    if data.get("ErrorCode"):  # SageMaker ModelStreamError: ModelInvocationTimeExceeded, StreamBroken
        message = f"{data['ErrorCode']}: {message}"
    return aws_error(target, STREAM_EXCEPTION_STATUS.get(code, 502), code, message, where="stream")


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""
