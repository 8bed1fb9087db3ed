"""Tencent Cloud API 3.0, shared by Hunyuan's native API and ASR: the call envelope and its error codes.

Every call is `POST /` with a JSON body, named by the X-TC-Action and X-TC-Version headers (signing/tc3.py signs
it). Answers come back under `Response`; a refused call is still HTTP 200, with `Response.Error.Code` such as
`AuthFailure.SignatureFailure`. Codes are read from the SDK's errorcodes modules (tencentcloud-sdk-python 3.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from modelyard.errors import (
    ContentFilteredError,
    ProviderQuotaExhaustedError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from modelyard.protocols.base import Target, UpstreamRequest
from modelyard.protocols.errors import error_for_status, redact, retry_after_s
from modelyard.protocols.openai.responses import reading

# Codes whose meaning a prefix rule would get wrong, first; then the families by prefix, most specific first.
_EXACT: Mapping[str, type[UpstreamError]] = {
    "LimitExceeded": UpstreamRateLimitError,  # Hunyuan: over the concurrency or frequency limit
    "FailedOperation.EngineServerLimitExceeded": UpstreamRateLimitError,
    "FailedOperation.EngineRequestTimeout": UpstreamTimeoutError,
    "FailedOperation.EngineServerError": UpstreamUnavailableError,
    "FailedOperation.ErrorRecognize": UpstreamUnavailableError,
    "FailedOperation.ServiceNotActivated": UpstreamAuthError,
    "FailedOperation.UserUnAuthError": UpstreamAuthError,
    "FailedOperation.CheckAuthInfoFailed": UpstreamAuthError,
    "FailedOperation.UserNotRegistered": UpstreamAuthError,
    "ResourceUnavailable.NotExist": UpstreamAuthError,  # the service was never activated for this account
    "FailedOperation.ResourcePackExhausted": ProviderQuotaExhaustedError,
    "FailedOperation.FreeResourcePackExhausted": ProviderQuotaExhaustedError,
    "FailedOperation.ServiceStopArrears": ProviderQuotaExhaustedError,
    "FailedOperation.ServiceIsolate": ProviderQuotaExhaustedError,
    "FailedOperation.UserHasNoAmount": ProviderQuotaExhaustedError,
    "FailedOperation.UserHasNoFreeAmount": ProviderQuotaExhaustedError,
    "ResourceUnavailable.InArrears": ProviderQuotaExhaustedError,
    "ResourceUnavailable.LowBalance": ProviderQuotaExhaustedError,
    "ResourceUnavailable.StopUsing": ProviderQuotaExhaustedError,
    "OperationDenied.TextIllegalDetected": ContentFilteredError,
    "OperationDenied.ImageIllegalDetected": ContentFilteredError,
}
_PREFIXES: tuple[tuple[str, type[UpstreamError]], ...] = (
    ("AuthFailure", UpstreamAuthError),
    ("UnauthorizedOperation", UpstreamAuthError),
    ("RequestLimitExceeded", UpstreamRateLimitError),
    ("ResourceInsufficient", ProviderQuotaExhaustedError),
    ("InternalError", UpstreamUnavailableError),
    ("ResourceUnavailable", UpstreamUnavailableError),
    ("InvalidParameter", UpstreamBadRequestError),  # and InvalidParameterValue
    ("MissingParameter", UpstreamBadRequestError),
    ("UnknownParameter", UpstreamBadRequestError),
    ("UnsupportedOperation", UpstreamBadRequestError),
    ("ResourceNotFound", UpstreamBadRequestError),
)
_WHAT: Mapping[type[UpstreamError], str] = {
    UpstreamAuthError: "credentials refused",
    UpstreamRateLimitError: "rate limited",
    ProviderQuotaExhaustedError: "provider quota or balance exhausted",
    ContentFilteredError: "blocked by the provider's content filter",
    UpstreamTimeoutError: "the provider timed out",
    UpstreamUnavailableError: "provider unavailable",
    UpstreamBadRequestError: "request refused",
}


def cloud_request(target: Target, action: str, version: str, params: Mapping[str, Any]) -> UpstreamRequest:
    headers = {"Content-Type": "application/json", "X-TC-Action": action, "X-TC-Version": version}
    return UpstreamRequest("POST", f"{target.base_url}/", headers, orjson.dumps(params))


def unwrap(target: Target, body: bytes, what: str) -> dict[str, Any]:
    """The `Response` object of an answer, or the error it carries, raised."""
    with reading(target, what):
        data = orjson.loads(body)
        response = data["Response"]
        if not isinstance(response, dict):
            raise TypeError(f"expected a Response object, got {type(response).__name__}")
    error = response.get("Error")
    if error:
        raise error_for_code(target, 200, str(error.get("Code") or ""), str(error.get("Message") or ""), response)
    return response


def error_for_code(
    target: Target, status: int, code: str, message: str, response: Mapping[str, Any] | None = None
) -> UpstreamError:
    kind = _EXACT.get(code) or next((k for prefix, k in _PREFIXES if code.startswith(prefix)), UpstreamBadRequestError)
    secrets = [value for key, value in target.credentials.items() if key in target.provider.secret_variables()]
    text = redact(message, secrets)
    request_id = (response or {}).get("RequestId")
    detail = f"{code}: {text}" + (f" (RequestId {request_id})" if request_id else "")
    provider = target.provider.id
    if kind is UpstreamRateLimitError:
        return UpstreamRateLimitError(
            f"rate limited: {detail}", provider=provider, status_code=status, vendor_code=code
        )
    return kind(f"{_WHAT[kind]}: {detail}", provider=provider, status_code=status, vendor_code=code)


def parse_error(target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
    """An HTTP failure: the Tencent Cloud envelope when the body has one, else the status alone."""
    try:
        error = orjson.loads(body)["Response"]["Error"]
        code, message = str(error["Code"]), str(error.get("Message") or "")
    except (orjson.JSONDecodeError, KeyError, TypeError):
        text = redact(body[:300].decode("utf-8", "replace"))
        return error_for_status(provider=target.provider.id, status=status, message=text, headers=headers)
    found = error_for_code(target, status, code, message)
    if isinstance(found, UpstreamRateLimitError):
        found.retry_after_s = retry_after_s(headers)
    return found
