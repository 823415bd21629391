"""The forecasts the engine made: each open run's latest, and the snapshots kept to score."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, func, select

from spyagency.domain.forecast import Forecast, WorkflowForecast
from spyagency.domain.forecast_score import Horizon, ScoredForecast
from spyagency.domain.states import Verdict
from spyagency.store.batches import chunked
from spyagency.store.schema import forecast, run_state
from spyagency.store.upsert import insert_or_ignore, upsert

LATEST = "latest"


class ForecastRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def save_latest(self, item: Forecast) -> None:
        upsert(self._connection, forecast, _row(item, LATEST), ("run", "horizon"))

    def keep(self, item: Forecast, horizon: Horizon) -> bool:
        """Keep ``item`` as the run's snapshot for ``horizon`` unless one is kept already."""
        return insert_or_ignore(
            self._connection, forecast, _row(item, horizon.value), ("run", "horizon")
        )

    def latest(self, run: int) -> Forecast | None:
        query = select(forecast).where(forecast.c.run == run, forecast.c.horizon == LATEST)
        row = self._connection.execute(query).mappings().first()
        return _forecast(row) if row is not None else None

    def latest_for(self, runs: Iterable[int]) -> dict[int, Forecast]:
        """The latest forecast of each of ``runs`` that has one."""
        found: dict[int, Forecast] = {}
        for chunk in chunked(runs):
            query = select(forecast).where(forecast.c.run.in_(chunk), forecast.c.horizon == LATEST)
            for row in self._connection.execute(query).mappings():
                found[int(row["run"])] = _forecast(row)
        return found

    def latest_mark(self) -> tuple[int, datetime | None]:
        """Changes whenever a latest forecast is written or removed: pages that show them
        key their caches on it."""
        query = select(func.count(), func.max(forecast.c.made_at)).where(
            forecast.c.horizon == LATEST
        )
        count, newest = self._connection.execute(query).one()
        return int(count), newest

    def kept_horizons(self, runs: Iterable[int]) -> dict[int, set[Horizon]]:
        """The horizons already kept for each of ``runs``."""
        found: dict[int, set[Horizon]] = {}
        for chunk in chunked(runs):
            query = select(forecast.c.run, forecast.c.horizon).where(
                forecast.c.run.in_(chunk), forecast.c.horizon != LATEST
            )
            for run, horizon in self._connection.execute(query):
                found.setdefault(int(run), set()).add(Horizon(horizon))
        return found

    def scored(self, stopped_since: datetime | None = None) -> list[ScoredForecast]:
        """Kept forecasts that were known, of runs released with every calibration proven
        (``proof_complete_at``), oldest stop first."""
        f, r = forecast.c, run_state.c
        query = (
            select(
                f.run, f.horizon, f.made_at, f.median, f.low, f.high, r.stop, r.proof_complete_at
            )
            .join(run_state, run_state.c.run == f.run)
            .where(
                f.horizon != LATEST,
                f.median.is_not(None),
                r.verdict == Verdict.RELEASED.value,
                r.proof_complete_at.is_not(None),
                r.stop.is_not(None),
            )
            .order_by(r.stop, f.run)
        )
        if stopped_since is not None:
            query = query.where(r.stop >= stopped_since)
        return [
            ScoredForecast(
                run=int(row["run"]),
                horizon=Horizon(row["horizon"]),
                stop=row["stop"],
                made_at=row["made_at"],
                median=row["median"],
                low=row["low"],
                high=row["high"],
                actual=row["proof_complete_at"],
            )
            for row in self._connection.execute(query).mappings()
        ]


def _row(item: Forecast, horizon: str) -> dict[str, Any]:
    return {
        "run": item.run,
        "horizon": horizon,
        "made_at": item.made_at,
        "median": item.median,
        "low": item.low,
        "high": item.high,
        "reason": item.reason,
        "detail": {
            "samples": item.samples,
            "failure_chance": item.failure_chance,
            "workflows": [
                {
                    "workflow": w.workflow,
                    "median": _text(w.median),
                    "low": _text(w.low),
                    "high": _text(w.high),
                    "samples": w.samples,
                    "failure_chance": w.failure_chance,
                }
                for w in item.workflows
            ],
        },
    }


def _text(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _moment(text: Any) -> datetime | None:
    return datetime.fromisoformat(str(text)) if text is not None else None


def _forecast(row: RowMapping) -> Forecast:
    detail = row["detail"] or {}
    return Forecast(
        run=int(row["run"]),
        made_at=row["made_at"],
        median=row["median"],
        low=row["low"],
        high=row["high"],
        reason=row["reason"],
        samples=int(detail.get("samples", 0)),
        failure_chance=float(detail.get("failure_chance", 0.0)),
        workflows=tuple(
            WorkflowForecast(
                workflow=str(w["workflow"]),
                median=_moment(w.get("median")),
                low=_moment(w.get("low")),
                high=_moment(w.get("high")),
                samples=int(w.get("samples", 0)),
                failure_chance=float(w.get("failure_chance", 0.0)),
            )
            for w in detail.get("workflows", ())
        ),
    )
