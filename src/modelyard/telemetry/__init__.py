"""OpenTelemetry traces of gateway calls: on when the `otel` extra is installed and the standard OTEL_* variables ask
for traces, free when off.

Off, `tracing` is None: each traced step costs its call site one check of it, and opentelemetry is never imported.
On (`configure()`, at the gateway's start), `tracing` is a `modelyard.telemetry.otel.Tracing`: one trace per
gateway call, continuing the caller's W3C `traceparent`, with spans for authentication, resolution, admission
(rates, budget), the hosted quota and the upstream call (OpenTelemetry's GenAI conventions).

Traces are wanted when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, or
OTEL_TRACES_EXPORTER names an exporter (`otlp`, `console`); never with OTEL_SDK_DISABLED=true or
OTEL_TRACES_EXPORTER=none. Message content goes into spans only with OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
(`true`, `span_only` or `span_and_event`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelyard.telemetry.otel import Tracing

log = logging.getLogger(__name__)

tracing: Tracing | None = None  # read on the hot path: None unless traces are on
TRACED = "modelyard.traced"  # set in the scope the gateway answers inside its call's span
_configured = False


def configure(env: Mapping[str, str] | None = None) -> Tracing | None:
    """Turn traces on if the environment asks for them (once per process; later calls return what the first did)."""
    global tracing, _configured
    if _configured:
        return tracing
    _configured = True
    env = os.environ if env is None else env
    if not wants_traces(env):
        return None
    try:
        from modelyard.telemetry.otel import from_environment
    except ImportError:
        log.warning(
            "OTEL_* variables ask for traces, but OpenTelemetry is not installed: pip install 'modelyard[otel]'"
        )
        return None
    tracing = from_environment(env)
    return tracing


def wants_traces(env: Mapping[str, str]) -> bool:
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    return bool(exporter or env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
