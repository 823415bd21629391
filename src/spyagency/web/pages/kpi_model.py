"""The figures the agency exists to move: how long after run stop PromptReco was released,
how often it went early (on our signal) rather than on the 48 h timer, and how many runs were
reconstructed without their calibrations, per month."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from spyagency.domain.clock import utc
from spyagency.domain.policy import Policy
from spyagency.domain.states import Verdict
from spyagency.store.run_timing import HOUR
from spyagency.store.uow import Transaction
from spyagency.web.plot_answers import early_before

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


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile: always a value that was observed."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
    return ordered[index]


def read_kpi(tx: Transaction, policy: Policy, since: datetime | None = None) -> Kpi:
    release: list[float] = []
    proof: list[float] = []
    early = timer = 0
    missed: Counter[str] = Counter()
    stopped: Counter[str] = Counter()
    for item in tx.run_timing.stopped_since(since):
        month = f"{utc(item.stop):%Y-%m}"
        stopped[month] += 1
        if item.verdict is Verdict.MISSED:
            missed[month] += 1
        if item.proof_complete_at is not None:
            proof.append((item.proof_complete_at - item.stop) / HOUR)
        if item.released_at is None:
            continue
        release.append((item.released_at - item.stop) / HOUR)
        if item.released_at - item.stop < early_before(policy):
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
