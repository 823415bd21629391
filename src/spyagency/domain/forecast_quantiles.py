"""The forecast's arithmetic: quantiles of the latest of several completion times.

A run is proven when its last workflow is, so its forecast is a quantile of a maximum. Each
workflow's completions are an empirical distribution (a sorted column of sample values);
independent ones multiply their distribution functions. Workflows waiting for one harvest
job are not independent: they share the end of that step ``H``, and only what follows it
(``U_w``) is each one's own, so their factor is ``E_H[prod_w F_U_w(t - H)]``, averaged over
``HARVEST_POINTS`` evenly ranked values of ``H``. Reading a quantile off the product is then
exact when every factor is a column (the answer is one of the sample values), and a
bisection to ``RESOLUTION_S`` otherwise. Nothing here draws at random, so a forecast is
repeatable. This module knows only numbers (seconds after the run stop); which columns and
groups make up a run is decided in ``forecast``.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

# Values of the shared harvest time the grouped distribution is averaged over.
HARVEST_POINTS = 8
# The bisection over time stops within this many seconds of the quantile.
RESOLUTION_S = 60.0


@dataclass(frozen=True)
class HarvestGroup:
    """Workflows waiting for one harvest job: its end ``H`` is shared, what follows it
    (``U_w``) is each one's own. ``P(max_w (H + U_w) <= t)`` averages, over
    ``HARVEST_POINTS`` evenly ranked values of ``H``, the product of the ``U_w``'s
    distribution functions."""

    harvests: tuple[float, ...]
    columns: tuple[tuple[float, ...], ...]

    def cdf(self, t: float) -> float:
        total = 0.0
        for harvest in self.harvests:
            total += max_cdf(self.columns, t - harvest)
        return total / len(self.harvests)


def spread(values: Sequence[float], points: int = HARVEST_POINTS) -> tuple[float, ...]:
    """``points`` values of ``values`` (sorted) at evenly spaced ranks (all when fewer)."""
    if len(values) <= points:
        return tuple(values)
    return tuple(values[int((index + 0.5) * len(values) / points)] for index in range(points))


def max_cdf(columns: Sequence[Sequence[float]], t: float) -> float:
    """P(max <= t) with independent columns, each an empirical distribution (sorted)."""
    product = 1.0
    for column in columns:
        product *= bisect.bisect_right(column, t) / len(column)
        if product == 0.0:
            return 0.0
    return product


def exact_quantile(columns: Sequence[Sequence[float]], q: float) -> float:
    """The smallest sample value ``t`` with ``P(max <= t) >= q``: exact, one of the values.

    A bisection over time that, at each turn, first tries the next sample value above its
    lower end: it ends on a value, in a few dozen distribution evaluations."""
    lo = max(column[0] for column in columns)  # below it the product is zero
    if max_cdf(columns, lo) >= q:
        return lo
    hi = max(column[-1] for column in columns)  # there the product is one
    # Invariant: cdf(lo) < q <= cdf(hi); the answer is a sample value in (lo, hi].
    while True:
        following = min(
            column[index]
            for column in columns
            if (index := bisect.bisect_right(column, lo)) < len(column)
        )
        if max_cdf(columns, following) >= q:
            return following
        lo = following
        middle = (lo + hi) / 2
        if max_cdf(columns, middle) >= q:
            hi = middle
        else:
            lo = middle


def numeric_quantile(
    columns: Sequence[Sequence[float]], groups: Sequence[HarvestGroup], q: float
) -> float:
    """The time ``t`` (within ``RESOLUTION_S``, never below) where the product of the
    columns' and the groups' distribution functions first reaches ``q``."""

    def cdf(t: float) -> float:
        product = max_cdf(columns, t)
        for group in groups:
            if product == 0.0:
                return 0.0
            product *= group.cdf(t)
        return product

    lo = max((column[0] for column in columns), default=0.0)
    lo = max([lo, *(min(g.harvests) for g in groups)])
    hi = max((column[-1] for column in columns), default=0.0)
    hi = max([hi, *(max(g.harvests) + max(c[-1] for c in g.columns) for g in groups)])
    if cdf(lo) >= q:
        return lo
    while hi - lo > RESOLUTION_S:
        middle = (lo + hi) / 2
        if cdf(middle) >= q:
            hi = middle
        else:
            lo = middle
    return hi
