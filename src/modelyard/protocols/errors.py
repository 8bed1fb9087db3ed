"""From an upstream status and error code to the error hierarchy, shared by every protocol.

Classification goes by HTTP status first, then by the provider's own error code, never by message text:
the status is what the provider said, a message match would be a guess.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from modelyard.errors import (
    ContentFilteredError,
    ContextLengthExceededError,
    ProviderQuotaExhaustedError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)

QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "insufficient_balance"})
CONTEXT_LENGTH_CODES = frozenset({"context_length_exceeded", "string_above_max_length"})
CONTENT_FILTER_CODES = frozenset({"content_filter", "content_policy_violation", "data_inspection_failed"})

# Vendors echo a prefix of a bad key in their messages ("Incorrect API key provided: sk-abc***xyz"):
# anything shaped like a key is masked before a message reaches our errors or logs.
_KEY_LIKE = re.compile(r"\b(?:sk|pk|rk|gsk|hf|nvapi|xai)[-_][A-Za-z0-9_\-*.]{6,}", re.IGNORECASE)


def redact(message: str, secrets: Collection[str] = ()) -> str:
    """The message with key-shaped strings and the given secret values masked."""
    for secret in secrets:
        if len(secret) >= 4:
            message = message.replace(secret, "****")
    return _KEY_LIKE.sub("****", message)


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Retry-After in seconds, from `retry-after-ms` (OpenAI) or `retry-after` (seconds only)."""
    lowered = {k.lower(): v for k, v in headers.items() if k.lower().startswith("retry-after")}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = lowered.get(name)
        if value:
            try:
                return max(float(value) * scale, 0.0)
            except ValueError:
                continue  # an HTTP date: not worth parsing, the caller backs off on its own
    return None


def error_for_status(
    *,
    provider: str,
    status: int,
    message: str,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
    context_length_codes: Collection[str] = CONTEXT_LENGTH_CODES,
) -> UpstreamError:
    """The error for an upstream HTTP failure; `code` is the vendor's error code or type, when it gave one."""
    detail = f"{message} (HTTP {status})" if message else f"HTTP {status}"

    def error(kind: type[UpstreamError], what: str) -> UpstreamError:
        return kind(f"{what}: {detail}", provider=provider, status_code=status, vendor_code=code)

    if code in QUOTA_CODES or status == 402:
        return error(ProviderQuotaExhaustedError, "provider quota or balance exhausted")
    if status == 429:
        return UpstreamRateLimitError(
            f"rate limited: {detail}", provider=provider, vendor_code=code, retry_after_s=retry_after_s(headers or {})
        )
    if status in (401, 403):
        return error(UpstreamAuthError, "credentials refused")
    if code in context_length_codes:
        return error(ContextLengthExceededError, "context length exceeded")
    if code in CONTENT_FILTER_CODES:
        return error(ContentFilteredError, "blocked by the provider's content filter")
    if status == 408:
        return error(UpstreamTimeoutError, "the provider timed out")
    if status == 409 or status >= 500:
        return error(UpstreamUnavailableError, "provider unavailable")
    return error(UpstreamBadRequestError, "request refused")
