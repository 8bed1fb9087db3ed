"""Errors to the console's JSON shape, `{"error": {"message", "type", "code", "field"}}`, in one table."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from modelyard.errors import (
    ConflictError,
    CredentialError,
    CredentialsNotConfiguredError,
    CredentialValidationError,
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

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ErrorShape:
    status: int
    type: str
    code: str | None = None


class ApiError(Exception):
    """An answer given at the HTTP edge (not signed in, CSRF, rate limited), as opposed to a domain error."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str,
        code: str | None = None,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.field = field
        self.headers = dict(headers or {})


def not_signed_in() -> ApiError:
    message = "sign in first, or send 'Authorization: Bearer <token>'"
    return ApiError(401, message, type="authentication", code="not_signed_in")


_SHAPES: dict[type[BaseException], ErrorShape] = {
    InvalidRequestError: ErrorShape(400, "invalid_request"),
    CredentialValidationError: ErrorShape(400, "invalid_request", "credentials_rejected"),
    CredentialsNotConfiguredError: ErrorShape(400, "invalid_request", "not_configured"),
    CredentialError: ErrorShape(401, "authentication"),  # a failed sign-in
    DecryptionError: ErrorShape(500, "server_error", "decryption_failed"),
    PermissionDeniedError: ErrorShape(403, "permission"),
    ModelDisabledError: ErrorShape(403, "permission", "model_disabled"),
    NotFoundError: ErrorShape(404, "not_found"),
    ModelNotFoundError: ErrorShape(404, "not_found"),
    ConflictError: ErrorShape(409, "conflict"),
    HostedQuotaExceededError: ErrorShape(429, "quota", "insufficient_quota"),
    UpstreamRateLimitError: ErrorShape(429, "upstream", "upstream_rate_limited"),
    ProviderQuotaExhaustedError: ErrorShape(402, "upstream", "provider_quota_exhausted"),
    UpstreamBadRequestError: ErrorShape(400, "upstream", "upstream_bad_request"),
    UpstreamAuthError: ErrorShape(502, "upstream", "upstream_auth_error"),  # our stored key, not the caller's
    UpstreamTimeoutError: ErrorShape(504, "upstream", "upstream_timeout"),
    UpstreamUnavailableError: ErrorShape(503, "upstream", "upstream_unavailable"),
    UpstreamConnectionError: ErrorShape(502, "upstream", "upstream_connection_error"),
    UpstreamError: ErrorShape(502, "upstream"),
    ModelyardError: ErrorShape(500, "server_error"),
}
_HTTP_TYPES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


def shape_of(error: ModelyardError) -> ErrorShape:
    return next(_SHAPES[kind] for kind in type(error).__mro__ if kind in _SHAPES)


def error_payload(error: ModelyardError) -> dict[str, Any]:
    """The `error` object for a domain error: also what the playground sends as an event."""
    shape = shape_of(error)
    message = str(error)
    if isinstance(error, DecryptionError):
        message = "stored credentials could not be decrypted; an operator must check the master key"
    return {"message": message, "type": shape.type, "code": shape.code, "field": getattr(error, "field", None)}


def error_response(
    status: int,
    message: str,
    *,
    type: str,
    code: str | None = None,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = {"error": {"message": message, "type": type, "code": code, "field": field}}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


async def on_modelyard_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ModelyardError)  # registered for ModelyardError only
    shape = shape_of(exc)
    if shape.status >= 500 and not isinstance(exc, UpstreamError):
        log.error("console: %s on %s %s: %s", type(exc).__name__, request.method, request.url.path, exc)
    headers = {}
    if isinstance(exc, UpstreamRateLimitError) and exc.retry_after_s is not None:
        headers["retry-after"] = str(max(1, round(exc.retry_after_s)))
    payload = error_payload(exc)
    return error_response(
        shape.status, payload["message"], type=shape.type, code=shape.code, field=payload["field"], headers=headers
    )


async def on_store_unavailable(request: Request, exc: Exception) -> Response:
    """The database pool ran dry or the database is away: 503, so a client can retry, not a 500."""
    log.warning("console: database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    message = "the service's database is busy or unreachable; try again shortly"
    return error_response(503, message, type="server_error", code="store_unavailable", headers={"retry-after": "1"})


async def on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, type=exc.type, code=exc.code, field=exc.field, headers=exc.headers)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = str(exc.detail)
    if exc.status_code == 404:
        message = f"no route {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    kind = _HTTP_TYPES.get(exc.status_code, "invalid_request" if exc.status_code < 500 else "server_error")
    return error_response(exc.status_code, message, type=kind, headers=exc.headers)


async def on_validation_error(request: Request, exc: Exception) -> Response:
    """Pydantic's 422 becomes a 400 that names the first offending field, e.g. `values.api_key`."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
    if first.get("type") == "json_invalid":
        field, message = "body", "the body is not valid JSON"
    else:
        field = field_name(first.get("loc", ()))
        message = f"{field}: {first.get('msg', 'invalid value')}"
    return error_response(400, message, type="invalid_request", code="validation", field=field)


def field_name(location: Sequence[Any]) -> str:
    parts = [str(part) for part in location]
    if len(parts) > 1 and parts[0] in _LOCATIONS:
        parts = parts[1:]
    if parts and parts[0] == "body" and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts) or "body"
