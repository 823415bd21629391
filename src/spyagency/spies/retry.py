"""Bounded retries with jittered exponential backoff; sleep and randomness are injectable so
tests run instantly and deterministically."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


def _default_sleep(seconds: float) -> Awaitable[None]:
    return asyncio.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    base_delay: float = 0.2
    max_delay: float = 2.0
    sleep: Callable[[float], Awaitable[None]] = field(default=_default_sleep, compare=False)
    # A uniform draw in [0, 1): tests pin it.
    jitter: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 = first retry).

        Half of the exponential step is fixed and half random, so many spies that failed
        together do not come back together. A server's Retry-After is honoured up to the cap.
        """
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        step = min(self.max_delay, self.base_delay * 2.0 ** max(0, retry - 1))
        return step * (0.5 + 0.5 * self.jitter())
