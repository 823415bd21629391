"""A clipped log-normal spread: the shape of most waiting times in the Tier-0 (a typical value
and a long right tail), kept inside hard bounds so a scenario never produces absurd times."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Spread:
    median: float
    sigma: float
    low: float
    high: float

    def sample(self, rng: random.Random) -> float:
        value = self.median * math.exp(rng.gauss(0.0, self.sigma))
        return min(self.high, max(self.low, value))

    @classmethod
    def from_toml(cls, raw: dict[str, Any]) -> Spread:
        spread = cls(
            median=float(raw["median"]),
            sigma=float(raw.get("sigma", 0.0)),
            low=float(raw.get("min", 0.0)),
            high=float(raw.get("max", math.inf)),
        )
        if spread.median <= 0 or spread.low > spread.high:
            raise ValueError(f"bad spread {raw!r}")
        return spread
