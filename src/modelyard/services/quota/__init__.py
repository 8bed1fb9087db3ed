"""Hosted quota: reserve at admission, settle or release after the call; see `service` for the whole design."""

from modelyard.services.quota.service import QuotaService
from modelyard.services.quota.values import LedgerEntry, QuotaStatus, Reservation

__all__ = ["LedgerEntry", "QuotaService", "QuotaStatus", "Reservation"]
