"""Who may read /metrics: anyone, unless the operator sets MODELYARD_METRICS_TOKEN; then only a scraper sending it."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from modelyard.console.auth import State
from modelyard.console.errors import ApiError

metrics_token = HTTPBearer(
    auto_error=False,
    scheme_name="metricsToken",
    description="MODELYARD_METRICS_TOKEN; /metrics asks for it only when the operator has set one.",
)
MetricsBearer = Annotated[HTTPAuthorizationCredentials | None, Security(metrics_token)]


async def metrics_reader(state: State, bearer: MetricsBearer) -> None:
    """Let the request through when no token is configured or the right one is sent; 401 otherwise."""
    expected = state.services.settings.metrics_token
    if expected is None:
        return
    sent = bearer.credentials if bearer is not None else ""
    # compare_digest: how long the comparison takes says nothing of how much of a guess was right
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise ApiError(
            401,
            "send the metrics token as 'Authorization: Bearer <token>'",
            type="authentication",
            code="metrics_token",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
