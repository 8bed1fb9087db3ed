"""From an upstream status and error code to the error hierarchy, shared by every protocol.

Classification goes by HTTP status first, then by the provider's own error code, never by message text:
the status is what the provider said, a message match would be a guess.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Literal

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


# Where the provider reported a failure: in the HTTP status of its answer, or inside an HTTP 200, in place of the
# answer or as an event of its stream. Inside a 200 only its own message and code say what happened.
Where = Literal["status", "answer", "stream"]


def where_reported(status: int, *, in_stream: bool = False) -> Where:
    """`status` is what the answer came with: 200 means the failure was reported inside it."""
    if in_stream:
        return "stream"
    return "answer" if status == 200 else "status"


def upstream_message(what: str, message: str, status: int, code: str | None = None, *, where: Where = "status") -> str:
    """`what: message (HTTP status)`; for a failure reported inside an HTTP 200, what the provider said there and
    no status it never sent: `upstream stream error: message (code)`."""
    if where == "status":
        return f"{what}: {message} (HTTP {status})" if message else f"{what}: HTTP {status}"
    lead = "upstream stream error" if where == "stream" else "upstream error in a 200 answer"
    return f"{lead}: {message or 'no message'}" + (f" ({code})" if code else "")


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
    where: Where = "status",
) -> UpstreamError:
    """The error for an upstream failure; `code` is the vendor's error code or type, when it gave one.

    For a failure reported inside an HTTP 200 (`where` is not "status"), `status` is the one its code stands for:
    it classifies the error, and the message quotes the code instead.
    """

    def text(what: str) -> str:
        return upstream_message(what, message, status, code, where=where)

    def error(kind: type[UpstreamError], what: str) -> UpstreamError:
        return kind(text(what), provider=provider, status_code=status, vendor_code=code)

    if code in QUOTA_CODES or status == 402:
        return error(ProviderQuotaExhaustedError, "provider quota or balance exhausted")
    if status == 429:
        return UpstreamRateLimitError(
            text("rate limited"), provider=provider, vendor_code=code, retry_after_s=retry_after_s(headers or {})
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
