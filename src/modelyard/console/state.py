"""What every console route reaches through `request.app.state.console`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelyard.console.ratelimit import SignInLimiter
from modelyard.console.sessions import SignIns
from modelyard.gateway.metrics import Metrics

if TYPE_CHECKING:
    from modelyard.services.context import Services


@dataclass(frozen=True, slots=True)
class ConsoleState:
    services: Services
    metrics: Metrics
    sign_ins: SignIns
    limiter: SignInLimiter
