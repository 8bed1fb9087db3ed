"""How long one credential's calls may wait, and how often they are retried: values of its own form.

A provider file names the form fields (`timeout_credential`, `retries_credential`); the runtime honours them per
call (runtime/invoke.py): the timeout replaces the process-wide waits for the first byte and for each later chunk,
never beyond the process-wide total; the retries repeat a call that failed before its first byte with a connection
error or a 5xx status (Dify's `invoke_timeout` / `max_retries` of Xinference, `timeout` of GPUStack).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from modelyard.catalog.spec import ProviderSpec
from modelyard.errors import CredentialValidationError

MAX_TIMEOUT_S = 3600.0
MAX_RETRIES = 10


@dataclass(frozen=True, slots=True)
class CallLimits:
    timeout_s: float | None = None  # None: the process-wide first-byte and idle timeouts
    retries: int = 0


NO_LIMITS = CallLimits()


def call_limits(spec: ProviderSpec, values: Mapping[str, str]) -> CallLimits:
    """The limits the values set; a value that is not a number in range raises, naming its field."""
    if spec.timeout_credential is None and spec.retries_credential is None:
        return NO_LIMITS
    timeout = _number(values, spec.timeout_credential, low=0.0, high=MAX_TIMEOUT_S, whole=False)
    retries = _number(values, spec.retries_credential, low=0, high=MAX_RETRIES, whole=True)
    return CallLimits(timeout_s=timeout, retries=int(retries or 0))


def _number(values: Mapping[str, str], variable: str | None, *, low: float, high: float, whole: bool) -> float | None:
    raw = (values.get(variable) or "").strip() if variable else ""
    if not raw or variable is None:
        return None
    try:
        number = int(raw) if whole else float(raw)
    except ValueError:
        kind = "a whole number" if whole else "a number of seconds"
        raise CredentialValidationError(f"{variable} must be {kind}, got {raw!r}", field=variable) from None
    if whole and not low <= number <= high:
        raise CredentialValidationError(f"{variable} must be from {int(low)} to {int(high)}", field=variable)
    if not whole and not low < number <= high:
        raise CredentialValidationError(f"{variable} must be above 0 and at most {int(high)} seconds", field=variable)
    return number
