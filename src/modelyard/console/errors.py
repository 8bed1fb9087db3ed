"""The console's face of the error contract: `{"error": {"message", "type", "code", "field", "params"}}`.

Domain errors take status, code and headers from `modelyard.error_contract`; `ApiError` and the framework's own
errors (no route, bad JSON) are answers of the HTTP edge, in the same shape. `message` is English, as every face
says it; `params` holds the values it names (`provider`, `model`, `model_type` ...), so that the web console words
the error from `code` and `params` in the user's language (static/js/messages.js), falling back to `message`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import orjson
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from modelyard.error_contract import ErrorAnswer, Kind, answer_for
from modelyard.errors import ModelyardError, UpstreamError

log = logging.getLogger(__name__)

# The codes of the HTTP edge's own answers; the web console words each one (tests/web/test_server_messages.py).
EdgeCode = Literal[
    "not_signed_in", "invalid_token", "session_expired", "csrf", "metrics_token", "rate_limited", "not_a_token"
]
VALIDATION_CODE = "validation"  # a body, query or path value the route's schema refuses


class ApiError(Exception):
    """An answer given at the HTTP edge (not signed in, CSRF, rate limited), as opposed to a domain error."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str,
        code: EdgeCode | None = None,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.field = field
        self.headers = dict(headers or {})
        self.params = dict(params or {})


def not_signed_in() -> ApiError:
    message = "sign in first, or send 'Authorization: Bearer <token>'"
    return ApiError(401, message, type="authentication", code="not_signed_in")


# The console's type words: one per kind of the error contract (`modelyard.error_contract`).
_CONSOLE_TYPES = {
    Kind.INVALID_REQUEST: "invalid_request",
    Kind.TOO_LARGE: "payload_too_large",
    Kind.AUTHENTICATION: "authentication",
    Kind.PERMISSION: "permission",
    Kind.NOT_FOUND: "not_found",
    Kind.CONFLICT: "conflict",
    Kind.QUOTA: "quota",
    Kind.RATE_LIMITED: "upstream",
    Kind.LIMITED: "rate_limited",
    Kind.UPSTREAM_REFUSED: "upstream",
    Kind.UPSTREAM: "upstream",
    Kind.SERVER: "server_error",
}
_HTTP_TYPES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


def error_payload(error: BaseException) -> dict[str, Any]:
    """The `error` object for an error the console answers with: also what the playground sends as an event."""
    return _payload(answer_for(error))


def _payload(answer: ErrorAnswer) -> dict[str, Any]:
    return {
        "message": answer.message,
        "type": _CONSOLE_TYPES[answer.kind],
        "code": answer.code,
        "field": answer.field,
        "params": dict(answer.params),
    }


def error_response(
    status: int,
    message: str,
    *,
    type: str,
    code: str | None = None,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
) -> Response:
    body = {"error": {"message": message, "type": type, "code": code, "field": field, "params": dict(params or {})}}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


async def on_modelyard_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ModelyardError)  # registered for ModelyardError only
    answer = answer_for(exc)
    if answer.status >= 500 and not isinstance(exc, UpstreamError):
        log.error("console: %s on %s %s: %s", type(exc).__name__, request.method, request.url.path, exc)
    return _respond(answer)


async def on_store_unavailable(request: Request, exc: Exception) -> Response:
    """The database pool ran dry or the database is away: 503, so a client can retry, not a 500."""
    log.warning("console: database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return _respond(answer_for(exc))


def answer_response(error: BaseException) -> Response:
    """Any error in the console's shape, as the contract has it: the error boundary's last resort too."""
    return _respond(answer_for(error))


def _respond(answer: ErrorAnswer) -> Response:
    body = {"error": _payload(answer)}
    return Response(
        orjson.dumps(body), status_code=answer.status, media_type="application/json", headers=dict(answer.headers)
    )


async def on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(
        exc.status, exc.message, type=exc.type, code=exc.code, field=exc.field, headers=exc.headers, params=exc.params
    )


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
        field, message, params = "body", "the body is not valid JSON", {"case": "json_invalid"}
    else:
        field = field_name(first.get("loc", ()))
        detail = str(first.get("msg", "invalid value"))
        message, params = f"{field}: {detail}", {"field": field, "detail": detail}
    return error_response(400, message, type="invalid_request", code=VALIDATION_CODE, field=field, params=params)


def field_name(location: Sequence[Any]) -> str:
    parts = [str(part) for part in location]
    if len(parts) > 1 and parts[0] in _LOCATIONS:
        parts = parts[1:]
    if parts and parts[0] == "body" and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts) or "body"
