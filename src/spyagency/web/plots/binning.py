"""Histogram bins chosen from the data: a "nice" width in hours, bins ``[start, end)`` that
start on a multiple of the width, so every axis tick can sit on a bin edge.

1. The wanted number of bins is Sturges' ``ceil(log2(n)) + 1`` (at most ``MAX_BINS``).
2. The width is the smallest nice width at least ``(max - min) / wanted``; past the largest
   nice width, a whole multiple of it (a week).
3. The first edge is the largest multiple of the width not above the smallest value; edges
   follow until one lies above the largest value, so the last value has a whole bin too.
4. Each value is counted in the bin whose start is the last edge not above it.

The nice widths are sums of powers of two or whole hours, so every edge is an exact binary
fraction: a value's bin never depends on rounding.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

# Hours: 15 min, 30 min, then divisors of a day, a day, two days, a week.
NICE_WIDTHS = (0.25, 0.5, 1.0, 2.0, 3.0, 6.0, 12.0, 24.0, 48.0, 168.0)
MAX_BINS = 40
# All values equal: a one-hour bin around them says "all at about this long".
WIDTH_OF_ONE_VALUE = 1.0


@dataclass(frozen=True)
class Histogram:
    edges: list[float]  # len(counts) + 1 ascending bin edges; bin i is [edges[i], edges[i+1])
    counts: list[int]

    @property
    def width(self) -> float | None:
        return self.edges[1] - self.edges[0] if len(self.edges) > 1 else None


def bin_width(low: float, high: float, count: int) -> float:
    """The nice width giving about Sturges' number of bins for ``count`` values in
    ``[low, high]``."""
    spread = high - low
    if spread <= 0:
        return WIDTH_OF_ONE_VALUE
    wanted = min(MAX_BINS, math.ceil(math.log2(count)) + 1 if count > 1 else 1)
    rough = spread / wanted
    for width in NICE_WIDTHS:
        if width >= rough:
            return width
    largest = NICE_WIDTHS[-1]
    return largest * math.ceil(rough / largest)


def histogram(values: Sequence[float]) -> Histogram:
    """Bins covering ``min(values)`` to ``max(values)`` and the number of values in each."""
    if not values:
        return Histogram(edges=[], counts=[])
    low, high = min(values), max(values)
    width = bin_width(low, high, len(values))
    start = math.floor(low / width) * width
    while start > low:  # a quotient rounded up to the next whole number
        start -= width
    bins = max(1, math.ceil((high - start) / width))
    while start + bins * width <= high:  # the largest value needs a bin of its own end
        bins += 1
    edges = [start + index * width for index in range(bins + 1)]
    counts = [0] * bins
    for value in values:
        counts[bisect_right(edges, value) - 1] += 1
    return Histogram(edges=edges, counts=counts)
