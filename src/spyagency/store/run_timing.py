"""When runs stopped, were proven and were released, and how long after its run's stop each
workflow was proven: the history the key figures and their plots are made of."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from spyagency.domain.states import Verdict
from spyagency.store.schema import run_state, workflow_state

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class RunTiming:
    run: int
    verdict: Verdict
    stop: datetime
    released_at: datetime | None
    proof_complete_at: datetime | None


class RunTimingQueries:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def stopped_since(self, start: datetime | None) -> list[RunTiming]:
        """Runs that stopped at or after ``start`` (None: all), lowest run first."""
        c = run_state.c
        query = select(c.run, c.verdict, c.stop, c.released_at, c.proof_complete_at).where(
            c.stop.is_not(None)
        )
        if start is not None:
            query = query.where(c.stop >= start)
        return [
            RunTiming(
                run=int(row["run"]),
                verdict=Verdict(row["verdict"]),
                stop=row["stop"],
                released_at=row["released_at"],
                proof_complete_at=row["proof_complete_at"],
            )
            for row in self._connection.execute(query.order_by(c.run)).mappings()
        ]

    def proof_hours_by_workflow(self, start: datetime | None) -> dict[str, list[float]]:
        """Per workflow, hours from run stop to proof in the CondDB, for runs that stopped at
        or after ``start`` and whose workflow was proven, by workflow name."""
        w, r = workflow_state.c, run_state.c
        query = (
            select(w.workflow, w.proven_at, r.stop)
            .join(run_state, r.run == w.run)
            .where(w.proven_at.is_not(None), r.stop.is_not(None))
        )
        if start is not None:
            query = query.where(r.stop >= start)
        found: dict[str, list[float]] = {}
        for workflow, proven_at, stop in self._connection.execute(query.order_by(w.workflow)):
            found.setdefault(str(workflow), []).append((proven_at - stop) / HOUR)
        return found
