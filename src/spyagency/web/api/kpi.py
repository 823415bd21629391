"""Key figures: how soon after the run stop PromptReco started, how often the agency let it
start before the 48 h timer, and how many runs were reconstructed without their calibrations."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from spyagency.domain.states import Verdict
from spyagency.web import plot_answers
from spyagency.web.api.forecasts import forecast_score
from spyagency.web.authorization import Action
from spyagency.web.params import MAX_RUN
from spyagency.web.schemas.kpi import (
    Distribution,
    Kpi,
    MonthCount,
    ProofLatency,
    ReleasedRun,
    ReleaseHistogram,
    ReleasesPerWeek,
)
from spyagency.web.security import require
from spyagency.web.services import WebServices

HOUR = timedelta(hours=1)
DEFAULT_DAYS = 730
Days = Annotated[int, Query(ge=1, le=3650, description="runs stopped in the last N days")]


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile: always one of the values, no interpolation to explain."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def router(services: WebServices) -> APIRouter:
    api = APIRouter(tags=["kpi"], dependencies=[Depends(require(Action.READ))])

    @api.get("/kpi", response_model=Kpi)
    def kpi(
        run_min: Annotated[int | None, Query(ge=0, le=MAX_RUN)] = None,
        run_max: Annotated[int | None, Query(ge=0, le=MAX_RUN)] = None,
    ) -> Kpi:
        """Release latency per released run, its distribution, and missed runs per month."""
        policy = services.policy
        early_before = plot_answers.early_before(policy)
        with services.store.read() as tx:
            released = tx.states.list_runs(Verdict.RELEASED, run_min, run_max, limit=None)
            missed = tx.states.list_runs(Verdict.MISSED, run_min, run_max, limit=None)
            scored = tx.forecasts.scored()
        rows = []
        for record in sorted(released, key=lambda r: r.run):
            stop, at = record.assessment.stop, record.assessment.released_at
            if stop is None or at is None:
                continue
            rows.append(
                ReleasedRun(
                    run=record.run,
                    stop=stop,
                    released_at=at,
                    hours=round((at - stop) / HOUR, 3),
                    early=at - stop < early_before,
                )
            )
        hours = [row.hours for row in rows]
        months = Counter(
            f"{r.assessment.stop:%Y-%m}" if r.assessment.stop else "unknown" for r in missed
        )
        return Kpi(
            released=rows,
            early=sum(row.early for row in rows),
            on_timer=sum(not row.early for row in rows),
            release_hours=Distribution(
                count=len(hours),
                median_hours=statistics.median(hours) if hours else None,
                p90_hours=percentile(hours, 0.9),
            ),
            missed_per_month=[
                MonthCount(month=month, missed=count) for month, count in sorted(months.items())
            ],
            forecast_score=forecast_score(scored, services.clock.now(), run_min, run_max),
        )

    @api.get("/kpi/release-histogram", response_model=ReleaseHistogram)
    def release_histogram(days: Days = DEFAULT_DAYS) -> ReleaseHistogram:
        """Released runs per bin of run stop -> PromptReco release (hours)."""
        since = services.clock.now() - timedelta(days=days)
        with services.store.read() as tx:
            return plot_answers.release_histogram(tx, services.policy, since)

    @api.get("/kpi/releases-per-week", response_model=ReleasesPerWeek)
    def releases_per_week(days: Days = DEFAULT_DAYS) -> ReleasesPerWeek:
        """Per week of run stop: runs released, how many early, median and longest delay."""
        since = services.clock.now() - timedelta(days=days)
        with services.store.read() as tx:
            return plot_answers.weekly_releases(tx, services.policy, since)

    @api.get("/kpi/proof-latency", response_model=ProofLatency)
    def proof_latency(days: Days = DEFAULT_DAYS) -> ProofLatency:
        """Per workflow, run stop -> proof in the CondDB: minimum, quartiles, maximum."""
        since = services.clock.now() - timedelta(days=days)
        with services.store.read() as tx:
            return plot_answers.proof_latency(tx, since)

    return api
