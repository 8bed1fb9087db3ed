"""
Every error modelyard raises on purpose:

* ModelyardError
  + CatalogError                 a provider file is invalid (raised at start-up)
  + InvalidRequestError          the caller asked for something malformed (bad parameter, empty input)
    - UnsupportedFeatureError    the model or protocol cannot do what was asked (tools, vision ...)
    - AddressRefusedError        the upstream address policy refuses where a base URL points
  + ModelNotFoundError           not in the catalog, or not configured for the workspace
  + CredentialError              credentials missing or unusable
    - CredentialsNotConfiguredError, CredentialValidationError, DecryptionError
    - ApiKeyExpiredError         the caller's API key is past its expiry time
  + WorkspaceError               a workspace rule refused the call
    - ModelDisabledError, HostedQuotaExceededError, PermissionDeniedError, NotFoundError, ConflictError
    - ModelNotAllowedError       the API key's policy does not allow the model
    - RateLimitedError           a key's or workspace's rate or concurrency limit; `retry_after_s`
    - BudgetExceededError        a key's or workspace's spend budget is used up
  + UpstreamError                the provider failed us (its `is_retryable` says if another try may help)
    - UpstreamConnectionError, UpstreamTimeoutError          no usable HTTP response
    - UpstreamAuthError                                      the stored key was refused
    - UpstreamRateLimitError                                 429, with `retry_after_s`
    - ProviderQuotaExhaustedError                            billing: credits or quota used up
    - ContextLengthExceededError, ContentFilteredError, UpstreamBadRequestError
    - UpstreamUnavailableError                               5xx, overloaded
    - UpstreamProtocolError                                  a response we could not read

What each class answers at the gateway and the console (status, code, retry headers) is its row in
`error_contract.py`; a class added anywhere in modelyard needs one there, or `tests/test_error_contract.py` fails.

An error may carry `params`, the values its English message names (`provider`, `model`, `model_type` ...), so that
the console can word it in the user's language from its code; the message API clients read stays as it is:

    raise ModelDisabledError(f"[{provider}] {model} is disabled ...").with_params(provider=provider, model=model)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Self

_NO_PARAMS: Mapping[str, str] = MappingProxyType({})


class ModelyardError(Exception):
    """Base class: catch this to handle anything modelyard raises deliberately."""

    # The values the message names, by name; `case` picks a wording where one code has several (an ICU `select`).
    params: Mapping[str, str] = _NO_PARAMS

    def with_params(self, **params: str | int) -> Self:
        """This error, carrying `params` besides those it had: `raise SomeError("...").with_params(model=m)`."""
        self.params = {**self.params, **{name: str(value) for name, value in params.items()}}
        return self


class CatalogError(ModelyardError):
    """A provider file is invalid; raised once, at start-up, naming the file and the field."""


class InvalidRequestError(ModelyardError):
    """The caller's request is malformed; `field` names the offending part when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnsupportedFeatureError(InvalidRequestError):
    """The model or its wire protocol cannot do what was asked (tools, vision, an endpoint ...)."""


class AddressRefusedError(InvalidRequestError):
    """The upstream address policy refuses the address a base URL points at; nothing was sent there."""


class ModelNotFoundError(ModelyardError):
    """The model is not in the catalog, or not available to the caller."""


class CredentialError(ModelyardError):
    """Credentials are missing, undecryptable, or were rejected."""


class CredentialsNotConfiguredError(CredentialError):
    """No credentials are stored for the provider or model that was asked for."""


class CredentialValidationError(CredentialError):
    """The provider rejected the credentials during a test call, or a required field is missing."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class DecryptionError(CredentialError):
    """A stored secret could not be decrypted: wrong master key, or tampered ciphertext."""


class ApiKeyExpiredError(CredentialError):
    """The API key is past the expiry time its policy set."""


class WorkspaceError(ModelyardError):
    """A workspace rule refused the request."""


class ModelDisabledError(WorkspaceError):
    """The model exists but the workspace disabled it."""


class HostedQuotaExceededError(WorkspaceError):
    """The workspace spent its hosted (system) quota for a provider."""


class PermissionDeniedError(WorkspaceError):
    """The caller's role does not allow this action."""


class NotFoundError(WorkspaceError):
    """A workspace resource (credential, key, member ...) does not exist for this caller."""


class ConflictError(WorkspaceError):
    """The change conflicts with what is stored (a duplicate name, a resource in use)."""


class ModelNotAllowedError(WorkspaceError):
    """The API key's policy does not allow the model that was asked for (its allowed models say which)."""


class RateLimitedError(WorkspaceError):
    """A rate or concurrency limit of the API key or of its workspace refused the call; `retry_after_s` is how long
    until it would pass, when waiting can help."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class BudgetExceededError(WorkspaceError):
    """The spend budget of the API key or of its workspace cannot cover the call's worst-case cost."""


class UpstreamError(ModelyardError):
    """The provider did not give us a usable answer."""

    is_retryable = False

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int | None = None,
        vendor_code: str | None = None,
    ) -> None:
        super().__init__(f"[{provider}] {message}")
        self.provider = provider
        self.status_code = status_code  # None when no HTTP response arrived
        self.vendor_code = vendor_code  # the provider's own error code, for logs
        self.params = {"provider": provider, "detail": message}  # `detail`: the message after its [provider] prefix


class UpstreamConnectionError(UpstreamError):
    """The connection to the provider failed or broke before a complete answer."""

    is_retryable = True


class UpstreamTimeoutError(UpstreamError):
    """The provider did not answer in time (connect, first byte, idle between chunks, or total)."""

    is_retryable = True


class UpstreamAuthError(UpstreamError):
    """The provider refused the stored credentials (401/403)."""


class UpstreamRateLimitError(UpstreamError):
    """The provider rate-limited us; `retry_after_s` is its Retry-After, when given."""

    is_retryable = True

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int | None = 429,
        vendor_code: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, status_code=status_code, vendor_code=vendor_code)
        self.retry_after_s = retry_after_s


class ProviderQuotaExhaustedError(UpstreamError):
    """The account at the provider ran out of credits or quota; retrying will not help."""


class UpstreamBadRequestError(UpstreamError):
    """The provider refused the request as invalid (400/404/422)."""


class ContextLengthExceededError(UpstreamBadRequestError):
    """The prompt and the requested output do not fit the model's context window."""


class ContentFilteredError(UpstreamBadRequestError):
    """The provider's content filter blocked the request or the answer."""


class UpstreamUnavailableError(UpstreamError):
    """The provider is failing or overloaded (5xx, 529)."""

    is_retryable = True


class UpstreamProtocolError(UpstreamError):
    """The provider answered with something we could not read."""
