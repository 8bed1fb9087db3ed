"""Errors to OpenAI's error shape, in one table looked up through the class hierarchy."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import sqlalchemy.exc

from modelyard.errors import (
    ConflictError,
    ContentFilteredError,
    ContextLengthExceededError,
    CredentialError,
    CredentialsNotConfiguredError,
    DecryptionError,
    HostedQuotaExceededError,
    InvalidRequestError,
    ModelDisabledError,
    ModelNotFoundError,
    ModelyardError,
    NotFoundError,
    PermissionDeniedError,
    ProviderQuotaExhaustedError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from modelyard.gateway.exchange import PayloadTooLargeError


@dataclass(frozen=True, slots=True)
class ErrorShape:
    status: int
    type: str
    code: str | None = None


# The database pool ran dry or the database is away: the caller may try again shortly.
_STORE_BUSY = ErrorShape(503, "server_error", "store_unavailable")
_STORE_BUSY_MESSAGE = "the service's database is busy or unreachable; try again shortly"
_INTERNAL = ErrorShape(500, "server_error")

_SHAPES: dict[type[BaseException], ErrorShape] = {
    sqlalchemy.exc.TimeoutError: _STORE_BUSY,
    sqlalchemy.exc.OperationalError: _STORE_BUSY,
    sqlalchemy.exc.InterfaceError: _STORE_BUSY,
    PayloadTooLargeError: ErrorShape(413, "invalid_request_error", "payload_too_large"),
    InvalidRequestError: ErrorShape(400, "invalid_request_error"),
    CredentialsNotConfiguredError: ErrorShape(400, "invalid_request_error", "model_not_configured"),
    CredentialError: ErrorShape(401, "authentication_error", "invalid_api_key"),
    PermissionDeniedError: ErrorShape(403, "permission_error"),
    ModelDisabledError: ErrorShape(403, "permission_error", "model_disabled"),
    ModelNotFoundError: ErrorShape(404, "invalid_request_error", "model_not_found"),
    NotFoundError: ErrorShape(404, "not_found_error"),
    ConflictError: ErrorShape(409, "invalid_request_error", "conflict"),
    HostedQuotaExceededError: ErrorShape(429, "insufficient_quota", "insufficient_quota"),
    UpstreamRateLimitError: ErrorShape(429, "rate_limit_error", "rate_limit_exceeded"),
    ProviderQuotaExhaustedError: ErrorShape(402, "upstream_error", "provider_quota_exhausted"),
    ContextLengthExceededError: ErrorShape(400, "invalid_request_error", "context_length_exceeded"),
    ContentFilteredError: ErrorShape(400, "invalid_request_error", "content_filter"),
    UpstreamBadRequestError: ErrorShape(400, "invalid_request_error", "upstream_bad_request"),
    UpstreamAuthError: ErrorShape(502, "upstream_error", "upstream_auth_error"),  # our stored key, not the caller's
    UpstreamTimeoutError: ErrorShape(504, "upstream_error", "upstream_timeout"),
    UpstreamUnavailableError: ErrorShape(503, "upstream_error", "upstream_unavailable"),
    UpstreamConnectionError: ErrorShape(502, "upstream_error", "upstream_connection_error"),
    UpstreamError: ErrorShape(502, "upstream_error"),
    DecryptionError: ErrorShape(500, "server_error", "decryption_failed"),
    ModelyardError: ErrorShape(500, "server_error"),
}


def shape_of(error: BaseException) -> ErrorShape:
    """The shape of the most specific class in the table; anything else is an internal error (a bug)."""
    return next((_SHAPES[kind] for kind in type(error).__mro__ if kind in _SHAPES), _INTERNAL)


def error_body(error: BaseException) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """Status, OpenAI-shaped JSON body and extra headers for an error the gateway answers with."""
    shape = shape_of(error)
    message = str(error) if isinstance(error, ModelyardError) else "internal error"
    headers: list[tuple[bytes, bytes]] = []
    if shape is _STORE_BUSY:
        message = _STORE_BUSY_MESSAGE
        headers.append((b"retry-after", b"1"))
    if isinstance(error, DecryptionError):
        message = "stored credentials could not be decrypted; an operator must check the master key"
    param = getattr(error, "field", None)
    body = {"error": {"message": message, "type": shape.type, "param": param, "code": shape.code}}
    if isinstance(error, UpstreamRateLimitError) and error.retry_after_s is not None:
        headers.append((b"retry-after", str(max(1, round(error.retry_after_s))).encode()))
    if isinstance(error, HostedQuotaExceededError):
        headers.append((b"x-should-retry", b"false"))  # SDKs retry 429s unless told not to
    return shape.status, orjson.dumps(body), headers


def plain_error(status: int, message: str, *, type: str, code: str | None = None, param: str | None = None) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": type, "param": param, "code": code}})
