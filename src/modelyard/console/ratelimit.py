"""Sign-in rate limits, counted in `services.cache`: shared by every replica when Redis is configured."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable

from modelyard.console.errors import ApiError
from modelyard.store.cache import Cache


class SignInLimiter:
    """At most `attempts` sign-in attempts per client IP, and per email, in each fixed window of `window_s`.

    Every attempt counts, right or wrong, and is counted before the password is checked: a burst of parallel
    guesses cannot slip in before the first failure is recorded.
    """

    def __init__(
        self, cache: Cache, *, attempts: int = 10, window_s: int = 300, clock: Callable[[], float] = time.time
    ) -> None:
        self.cache = cache
        self.attempts = attempts
        self.window_s = window_s
        self.clock = clock  # wall-clock: replicas must agree on where a window starts

    async def attempt(self, *, client_ip: str, email: str | None = None) -> None:
        """Count one attempt; ApiError 429 with Retry-After when the IP or the email used up its window."""
        now = self.clock()
        window = int(now // self.window_s)
        keys = [f"console:sign-in:ip:{client_ip}:{window}"]
        if email:  # hashed: the shared cache need not hold email addresses
            keys.append(
                f"console:sign-in:email:{hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]}:{window}"
            )
        for key in keys:
            if await self.cache.incr(key, ttl_s=self.window_s) > self.attempts:
                retry_after_s = max(1, math.ceil((window + 1) * self.window_s - now))
                raise ApiError(
                    429,
                    f"too many sign-in attempts; try again in {retry_after_s} s",
                    type="rate_limited",
                    code="rate_limited",
                    headers={"Retry-After": str(retry_after_s)},
                )
