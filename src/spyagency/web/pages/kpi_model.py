"""The figures the agency exists to move: how long after run stop PromptReco was released,
how often it went early (on our signal) rather than on the 48 h timer, and how many runs were
reconstructed without their calibrations, per month."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from spyagency.domain.clock import utc
from spyagency.domain.policy import Policy
from spyagency.domain.states import Verdict
from spyagency.store.schema import run_state
from spyagency.store.uow import Transaction

BIN_HOURS = 6
# Released this much before the timer counts as early: the Tier-0 polls, it is not instant.
TIMER_TOLERANCE = timedelta(minutes=5)
QUANTILES = (0.1, 0.5, 0.9, 0.99)


@dataclass(frozen=True)
class Kpi:
    release_hours: list[float]
    proof_hours: list[float]
    early: int
    timer: int
    missed_by_month: list[tuple[str, int, int]]  # (YYYY-MM, missed, runs stopped that month)

    def quantiles(self, values: list[float]) -> list[tuple[str, float]]:
        return [(f"p{round(q * 100)}", quantile(values, q)) for q in QUANTILES if values]

    def histogram(self) -> dict[str, list[float]]:
        """Release delays in ``BIN_HOURS`` bins, as uPlot columns (bin start, count)."""
        if not self.release_hours:
            return {"bins": [], "counts": []}
        counts = Counter(int(h // BIN_HOURS) for h in self.release_hours)
        last = max(counts)
        bins = list(range(min(0, *counts), last + 1))
        return {
            "bins": [float(b * BIN_HOURS) for b in bins],
            "counts": [float(counts.get(b, 0)) for b in bins],
        }


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile: always a value that was observed."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
    return ordered[index]


def read_kpi(tx: Transaction, policy: Policy, since: datetime | None = None) -> Kpi:
    c = run_state.c
    query = select(c.run, c.verdict, c.stop, c.released_at, c.proof_complete_at)
    if since is not None:
        query = query.where(c.stop >= since)
    release: list[float] = []
    proof: list[float] = []
    early = timer = 0
    missed: Counter[str] = Counter()
    stopped: Counter[str] = Counter()
    for _run, verdict, stop, released_at, proven_at in tx.connection.execute(query):
        if stop is None:
            continue
        month = f"{utc(stop):%Y-%m}"
        stopped[month] += 1
        if verdict == Verdict.MISSED.value:
            missed[month] += 1
        if proven_at is not None:
            proof.append((proven_at - stop).total_seconds() / 3600)
        if released_at is None:
            continue
        release.append((released_at - stop).total_seconds() / 3600)
        if released_at < stop + policy.reco_delay - TIMER_TOLERANCE:
            early += 1
        else:
            timer += 1
    months = sorted(stopped, reverse=True)
    return Kpi(
        release_hours=release,
        proof_hours=proof,
        early=early,
        timer=timer,
        missed_by_month=[(m, missed[m], stopped[m]) for m in months],
    )
