"""Hosted quota: reserve at admission, settle or release after the call; see `service` for the whole design."""

from modelyard.services.quota.estimate import CallEstimate
from modelyard.services.quota.service import QuotaService
from modelyard.services.quota.values import LedgerEntry, QuotaStatus, Reservation

__all__ = ["CallEstimate", "LedgerEntry", "QuotaService", "QuotaStatus", "Reservation"]
