"""A token bucket: at most ``burst`` sends at once, ``rate_per_minute`` sends on average.

The dispatcher asks before each delivery on a channel, so a storm of alerts (a source going
stale fails every run at once) cannot flood a pager or a chat room, while a quiet channel
still sends its first ``burst`` messages immediately. Pure: time comes from the injected
clock (seconds, monotonic), nothing sleeps.

>>> now = [0.0]
>>> bucket = TokenBucket(rate_per_minute=60, burst=2, clock=lambda: now[0])
>>> [bucket.try_acquire() for _ in range(3)]
[True, True, False]
>>> bucket.seconds_until_available()
1.0
>>> now[0] = 1.0
>>> bucket.try_acquire()
True
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

# Refills are float sums; without a little slack, waiting exactly seconds_until_available()
# could leave 0.9999999999 tokens and refuse. The slack is far below one token.
_EPSILON = 1e-9


class TokenBucket:
    """Tokens refill continuously at ``rate_per_minute``; each send takes one.

    ``rate_per_minute = 0`` gives ``burst`` sends in total and then none.
    """

    def __init__(
        self,
        rate_per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_minute < 0 or not math.isfinite(rate_per_minute):
            raise ValueError(f"rate_per_minute must be finite and >= 0, not {rate_per_minute}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst}")
        self.rate_per_minute = rate_per_minute
        self.burst = burst
        self._clock = clock
        self._per_second = rate_per_minute / 60.0
        self._tokens = float(burst)  # a quiet channel may send its burst at once
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        # A clock that steps back must not mint or destroy tokens.
        elapsed = max(0.0, now - self._updated)
        self._updated = max(self._updated, now)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self._per_second)

    @property
    def tokens(self) -> float:
        """Tokens available now (fractional while refilling)."""
        self._refill()
        return self._tokens

    def try_acquire(self) -> bool:
        """Take one token if there is one; never waits."""
        self._refill()
        if self._tokens + _EPSILON >= 1.0:
            self._tokens = max(0.0, self._tokens - 1.0)
            return True
        return False

    def seconds_until_available(self) -> float:
        """How long until :meth:`try_acquire` would succeed: 0 if now, ``inf`` if never."""
        self._refill()
        missing = 1.0 - self._tokens
        if missing <= _EPSILON:
            return 0.0
        if self._per_second == 0:
            return math.inf
        return missing / self._per_second
