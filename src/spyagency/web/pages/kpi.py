"""The KPI page: run stop to PromptReco release (quantiles, a histogram, the delay per week
against the timer), early releases, stop-to-proof latency per workflow, how the forecasts fared
(ADR 11), missed runs per month.
The plots are drawn from the API; the tables under them print the same answers.

Route: ``GET /kpi`` (``days`` back, default about two years).

Its figures are the ones the agency exists to move: how long after run stop PromptReco was
released, how often it went early (on our signal) rather than on the 48 h timer, and how many
runs were reconstructed without their calibrations, per month.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from spyagency.domain.clock import utc
from spyagency.domain.policy import Policy
from spyagency.domain.states import Verdict
from spyagency.store.run_timing import HOUR
from spyagency.store.uow import Transaction
from spyagency.web import plot_answers
from spyagency.web.api.forecasts import forecast_score
from spyagency.web.pages.rendering import PageKit, Viewer, read_banner

QUANTILES = (0.1, 0.5, 0.9, 0.99)
DEFAULT_DAYS = 730

# The figures.


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
        if item.released_at - item.stop < plot_answers.early_before(policy):
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


# The route.


def add_routes(api: APIRouter, kit: PageKit) -> None:
    services = kit.services

    @api.get("/kpi", response_class=HTMLResponse, include_in_schema=False)
    def kpi(
        request: Request, days: Annotated[int, Query(ge=1, le=3650)] = DEFAULT_DAYS
    ) -> Response:
        viewer = kit.reader(request)
        if not isinstance(viewer, Viewer):
            return viewer
        now = services.clock.now()
        since = now - timedelta(days=days)
        policy = services.policy
        with services.store.read() as tx:
            banner = read_banner(tx, services, now)
            figures = read_kpi(tx, policy, since=since)
            histogram = plot_answers.release_histogram(tx, policy, since)
            weekly = plot_answers.weekly_releases(tx, policy, since)
            latency = plot_answers.proof_latency(tx, since)
            scored = tx.forecasts.scored(stopped_since=since)
        return kit.page(
            request,
            "kpi.html",
            viewer,
            banner,
            kpi=figures,
            days=days,
            histogram=histogram,
            weekly=weekly,
            latency=latency,
            forecast_score=forecast_score(scored, now, None, None),
            reco_delay_hours=policy.reco_delay / timedelta(hours=1),
        )
