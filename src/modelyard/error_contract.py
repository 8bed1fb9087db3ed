"""What every face answers for every error: status, code, kind and retry semantics, in one table.

The faces only wrap an `ErrorAnswer` in their envelope and name its `kind` in their own `type` words: OpenAI's
shape for `/v1` (`gateway/errors.py`), Anthropic's for `/v1/messages` (`protocols/anthropic/egress.py`), the
console's (`console/errors.py`). `tests/test_error_contract.py` holds each row to the documented contract at every
face, and fails for a `ModelyardError` subclass that has no row of its own.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import sqlalchemy.exc

from modelyard.errors import (
    AddressRefusedError,
    ApiKeyExpiredError,
    BudgetExceededError,
    CatalogError,
    ConflictError,
    ContentFilteredError,
    ContextLengthExceededError,
    CredentialError,
    CredentialsNotConfiguredError,
    CredentialValidationError,
    DecryptionError,
    HostedQuotaExceededError,
    InvalidRequestError,
    ModelDisabledError,
    ModelNotAllowedError,
    ModelNotFoundError,
    ModelyardError,
    NotFoundError,
    PermissionDeniedError,
    ProviderQuotaExhaustedError,
    RateLimitedError,
    UnsupportedFeatureError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
    WorkspaceError,
)


class Kind(enum.Enum):
    """What went wrong, in words of no face: each face names a kind in its own `type` vocabulary."""

    INVALID_REQUEST = "invalid_request"
    TOO_LARGE = "too_large"
    AUTHENTICATION = "authentication"  # the caller's own key, token or password
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    QUOTA = "quota"  # the workspace spent its hosted quota
    RATE_LIMITED = "rate_limited"  # the provider rate-limited the call
    LIMITED = "limited"  # a rate or concurrency limit of this service: the API key's or its workspace's
    UPSTREAM_REFUSED = "upstream_refused"  # the provider refused the request itself: too long, filtered, invalid
    UPSTREAM = "upstream"  # the provider failed
    SERVER = "server"  # modelyard itself failed: its database, its configuration, a bug


class Retry(enum.Enum):
    NO = "no"  # the same call fails the same way until someone changes something
    BACKOFF = "backoff"  # transient: try again after a backoff of the client's choosing
    AFTER_ERROR = "after_error"  # transient: Retry-After from the error's `retry_after_s`, when it has one
    SOON = "soon"  # transient and short: Retry-After: 1


@dataclass(frozen=True, slots=True)
class Contract:
    """One row of the table."""

    status: int
    code: str
    kind: Kind
    retry: Retry

    @property
    def is_retryable(self) -> bool:
        return self.retry is not Retry.NO


# The database pool ran dry or the database is away: the caller may try again shortly.
_STORE_BUSY = Contract(503, "store_unavailable", Kind.SERVER, Retry.SOON)
_STORE_BUSY_MESSAGE = "the service's database is busy or unreachable; try again shortly"
# Not a ModelyardError: a bug. Its details stay in the log.
INTERNAL = Contract(500, "internal_error", Kind.SERVER, Retry.BACKOFF)
_INTERNAL_MESSAGE = "internal error; the server log has the details"

# Classes above this layer (gateway, services, store ...) are named by their dotted path: importing them here would
# point a dependency upwards. The contract test checks that every name still resolves to a class.
_ROWS: dict[type[BaseException] | str, Contract] = {
    sqlalchemy.exc.TimeoutError: _STORE_BUSY,
    sqlalchemy.exc.OperationalError: _STORE_BUSY,
    sqlalchemy.exc.InterfaceError: _STORE_BUSY,
    ModelyardError: Contract(500, "internal_error", Kind.SERVER, Retry.BACKOFF),
    CatalogError: Contract(500, "catalog_invalid", Kind.SERVER, Retry.NO),
    InvalidRequestError: Contract(400, "invalid_request", Kind.INVALID_REQUEST, Retry.NO),
    UnsupportedFeatureError: Contract(400, "unsupported_feature", Kind.INVALID_REQUEST, Retry.NO),
    AddressRefusedError: Contract(400, "address_refused", Kind.INVALID_REQUEST, Retry.NO),
    "modelyard.gateway.exchange.PayloadTooLargeError": Contract(413, "payload_too_large", Kind.TOO_LARGE, Retry.NO),
    # The service stopped before the call ended (its drain time ran out): another replica, or this one restarted.
    "modelyard.gateway.exchange.ServerStoppingError": Contract(503, "server_stopping", Kind.SERVER, Retry.SOON),
    ModelNotFoundError: Contract(404, "model_not_found", Kind.NOT_FOUND, Retry.NO),
    CredentialError: Contract(401, "authentication_failed", Kind.AUTHENTICATION, Retry.NO),
    CredentialsNotConfiguredError: Contract(400, "credentials_not_configured", Kind.INVALID_REQUEST, Retry.NO),
    CredentialValidationError: Contract(400, "credentials_rejected", Kind.INVALID_REQUEST, Retry.NO),
    DecryptionError: Contract(500, "decryption_failed", Kind.SERVER, Retry.NO),
    ApiKeyExpiredError: Contract(401, "api_key_expired", Kind.AUTHENTICATION, Retry.NO),
    WorkspaceError: Contract(403, "workspace_refused", Kind.PERMISSION, Retry.NO),
    ModelDisabledError: Contract(403, "model_disabled", Kind.PERMISSION, Retry.NO),
    HostedQuotaExceededError: Contract(429, "insufficient_quota", Kind.QUOTA, Retry.NO),
    PermissionDeniedError: Contract(403, "permission_denied", Kind.PERMISSION, Retry.NO),
    NotFoundError: Contract(404, "not_found", Kind.NOT_FOUND, Retry.NO),
    ConflictError: Contract(409, "conflict", Kind.CONFLICT, Retry.NO),
    ModelNotAllowedError: Contract(403, "model_not_allowed", Kind.PERMISSION, Retry.NO),
    # OpenAI's code for its own rate limits; Retry-After says when the bucket holds enough again.
    RateLimitedError: Contract(429, "rate_limit_exceeded", Kind.LIMITED, Retry.AFTER_ERROR),
    # 429 and insufficient_quota, as OpenAI answers a spent quota; waiting does not help before the budget resets.
    BudgetExceededError: Contract(429, "budget_exceeded", Kind.QUOTA, Retry.NO),
    UpstreamError: Contract(502, "upstream_error", Kind.UPSTREAM, Retry.NO),
    UpstreamConnectionError: Contract(502, "upstream_connection_error", Kind.UPSTREAM, Retry.BACKOFF),
    UpstreamTimeoutError: Contract(504, "upstream_timeout", Kind.UPSTREAM, Retry.BACKOFF),
    UpstreamAuthError: Contract(
        502, "upstream_auth_error", Kind.UPSTREAM, Retry.NO
    ),  # our stored key, not the caller's
    UpstreamRateLimitError: Contract(429, "rate_limit_exceeded", Kind.RATE_LIMITED, Retry.AFTER_ERROR),
    ProviderQuotaExhaustedError: Contract(402, "provider_quota_exhausted", Kind.UPSTREAM, Retry.NO),
    UpstreamBadRequestError: Contract(400, "upstream_bad_request", Kind.UPSTREAM_REFUSED, Retry.NO),
    ContextLengthExceededError: Contract(400, "context_length_exceeded", Kind.UPSTREAM_REFUSED, Retry.NO),
    ContentFilteredError: Contract(400, "content_filter", Kind.UPSTREAM_REFUSED, Retry.NO),
    UpstreamUnavailableError: Contract(503, "upstream_unavailable", Kind.UPSTREAM, Retry.BACKOFF),
    UpstreamProtocolError: Contract(502, "upstream_protocol_error", Kind.UPSTREAM, Retry.NO),
    "modelyard.services.invoke.NoCredentialAvailableError": Contract(
        503, "no_credential_available", Kind.UPSTREAM, Retry.BACKOFF
    ),
    "modelyard.services.hosted.HostedConfigError": Contract(500, "hosted_config_invalid", Kind.SERVER, Retry.NO),
    # A repeat of a call still running: 409 as the IETF Idempotency-Key draft says; the SDKs retry it after Retry-After.
    "modelyard.services.idempotency.values.IdempotencyConflictError": Contract(
        409, "idempotency_key_in_use", Kind.CONFLICT, Retry.SOON
    ),
    "modelyard.services.idempotency.values.IdempotencyKeyReusedError": Contract(
        422, "idempotency_key_reused", Kind.INVALID_REQUEST, Retry.NO
    ),
    "modelyard.settings.SettingsError": Contract(500, "settings_invalid", Kind.SERVER, Retry.NO),
    "modelyard.store.transfer.TransferError": Contract(500, "transfer_failed", Kind.SERVER, Retry.NO),
    "modelyard.vault.MasterKeyError": Contract(500, "master_key_invalid", Kind.SERVER, Retry.NO),
}
ROWS: Mapping[type[BaseException] | str, Contract] = MappingProxyType(_ROWS)


def class_name(kind: type) -> str:
    """How a row names a class defined above this layer: `modelyard.gateway.exchange.PayloadTooLargeError`."""
    return f"{kind.__module__}.{kind.__qualname__}"


def own_row(kind: type[BaseException]) -> Contract | None:
    """The row written for exactly this class, not one inherited from a base class."""
    return _ROWS.get(kind) or _ROWS.get(class_name(kind))


def contract_of(kind: type[BaseException]) -> Contract:
    """The row of the most specific class in the table; anything outside it is a bug, answered as INTERNAL."""
    resolved = _RESOLVED.get(kind)
    if resolved is None:
        rows = (own_row(base) for base in kind.__mro__)
        resolved = _RESOLVED[kind] = next((row for row in rows if row is not None), INTERNAL)
    return resolved


_RESOLVED: dict[type[BaseException], Contract] = {}  # one entry per error class ever answered: a handful


# Statuses the openai and anthropic SDKs retry on their own unless `x-should-retry: false` says otherwise
# (openai 3.63 `_base_client._should_retry`: 408, 409, 429 and every 5xx).
def _sdks_retry(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    """What a face tells the caller about one error; the face adds its envelope and its `type` word."""

    status: int
    code: str
    kind: Kind
    message: str
    field: str | None  # the request field at fault, when the error names one
    headers: tuple[tuple[str, str], ...]  # lower-case names
    params: Mapping[str, str]  # what `message` names, for a face that words it itself (the console)


def answer_for(error: BaseException) -> ErrorAnswer:
    row = contract_of(type(error))
    params: Mapping[str, str] = MappingProxyType({})
    if row is _STORE_BUSY:
        message = _STORE_BUSY_MESSAGE  # the driver's text names hosts and pool sizes
    elif isinstance(error, DecryptionError):
        message = "stored credentials could not be decrypted; an operator must check the master key"
    elif isinstance(error, ModelyardError):
        message, params = str(error), error.params
    else:
        message = _INTERNAL_MESSAGE
    field = getattr(error, "field", None) if isinstance(error, ModelyardError) else None
    return ErrorAnswer(row.status, row.code, row.kind, message, field, _retry_headers(row, error), params)


def _retry_headers(row: Contract, error: BaseException) -> tuple[tuple[str, str], ...]:
    if row.retry is Retry.SOON:
        return (("retry-after", "1"),)
    if row.retry is Retry.AFTER_ERROR:
        seconds = getattr(error, "retry_after_s", None)
        return (("retry-after", str(max(1, round(seconds)))),) if seconds is not None else ()
    if row.retry is Retry.NO and _sdks_retry(row.status):
        return (("x-should-retry", "false"),)  # another try cannot help, and the SDK would try twice more
    return ()
