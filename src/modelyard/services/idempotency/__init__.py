"""Idempotency-Key records for the gateway: see `service.py`."""

from modelyard.services.idempotency.service import IdempotencyService
from modelyard.services.idempotency.values import (
    Claim,
    IdempotencyConflictError,
    IdempotencyKeyReusedError,
    KeyScope,
)
from modelyard.services.recorded import StoredAnswer

__all__ = [
    "Claim",
    "IdempotencyConflictError",
    "IdempotencyKeyReusedError",
    "IdempotencyService",
    "KeyScope",
    "StoredAnswer",
]
