"""The five numbers a box plot draws: minimum, first quartile, median, third quartile, maximum.

Quartiles are interpolated between the two nearest values (the "inclusive" method, as a
spreadsheet's QUARTILE.INC): the minimum and maximum are the 0th and 4th quartiles, so the
five numbers never leave the range of the data and always ascend.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FiveNumbers:
    count: int
    minimum: float
    q1: float
    median: float
    q3: float
    maximum: float


def five_numbers(values: Sequence[float]) -> FiveNumbers | None:
    """None for no values; one value is its own quartiles."""
    if not values:
        return None
    if len(values) == 1:
        only = values[0]
        return FiveNumbers(1, only, only, only, only, only)
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    low, high = min(values), max(values)
    # Interpolation may land one rounding step outside its neighbours: clamp it back.
    q1 = min(max(q1, low), high)
    median = min(max(median, q1), high)
    q3 = min(max(q3, median), high)
    return FiveNumbers(len(values), low, q1, median, q3, high)
