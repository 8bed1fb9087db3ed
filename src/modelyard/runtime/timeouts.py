"""How long the runtime waits on an upstream, in a module of its own: the services read the total timeout (what a
quota reservation or an idempotency lease must outlive) without importing aiohttp and building a runtime."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to wait for a connection, the first byte, each later chunk, and the whole call."""

    connect_s: float = 10.0
    first_byte_s: float = 300.0  # a non-streamed answer arrives whole: reasoning models think for minutes
    idle_s: float = 120.0
    total_s: float = 900.0
