"""The run class (OMS) and acquisition era (Tier-0 express configuration) of runs, for the
run lists' filters and labels.

They are not part of the stored assessment, so they are read from the observation log: only
two JSON fields of two fact kinds, extracted by the database (``JSON_EXTRACT`` on SQLite,
``->>`` on PostgreSQL), batched per chunk of runs, never per row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, select

from spyagency.domain.facts import ExpressConfig, RunInfo
from spyagency.store.batches import chunked
from spyagency.store.schema import observation, run_state


@dataclass(frozen=True)
class RunLabels:
    run_class: str | None = None
    era: str | None = None


class RunLabelRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def of_runs(self, runs: Iterable[int]) -> dict[int, RunLabels]:
        """Labels per run, for the runs that have any; the latest observation of each fact
        wins, as in the fold."""
        run_class: dict[int, str | None] = {}
        era: dict[int, str | None] = {}
        class_field = observation.c.fact["run_class"].as_string()
        era_field = observation.c.fact["acq_era"].as_string()
        for chunk in chunked(runs):
            query = (
                select(observation.c.run, observation.c.kind, class_field, era_field)
                .where(observation.c.run.in_(chunk))
                .where(observation.c.kind.in_((RunInfo.kind, ExpressConfig.kind)))
                .order_by(observation.c.id)
            )
            for run, kind, found_class, found_era in self._connection.execute(query):
                if kind == RunInfo.kind:
                    run_class[int(run)] = found_class
                elif found_era:
                    era[int(run)] = found_era
        labelled = set(run_class) | set(era)
        return {run: RunLabels(run_class.get(run), era.get(run)) for run in labelled}

    def of_run(self, run: int) -> RunLabels:
        """The labels of one run, empty when nothing labelled it."""
        return self.of_runs([run]).get(run, RunLabels())

    def of_newest_runs(self, count: int) -> list[RunLabels]:
        """The labels of the ``count`` highest runs with a stored state, in no order (runs
        without labels left out): what the filter choices are made of."""
        newest = select(run_state.c.run).order_by(run_state.c.run.desc()).limit(count)
        runs = [int(run) for run in self._connection.execute(newest).scalars()]
        return list(self.of_runs(runs).values())

    def runs_labelled(self, run_class: str | None, era: str | None, limit: int) -> list[int]:
        """The newest runs ever observed with this class and/or era, highest first (a
        superset: a later observation may have relabelled a run, so callers check
        ``of_runs`` again). No class and no era: no runs."""
        found: set[int] | None = None
        if run_class:
            found = self._runs_where(RunInfo.kind, "run_class", run_class, limit)
        if era:
            by_era = self._runs_where(ExpressConfig.kind, "acq_era", era, limit)
            found = by_era if found is None else found & by_era
        return sorted(found or set(), reverse=True)

    def _runs_where(self, kind: str, field: str, value: str, limit: int) -> set[int]:
        query = (
            select(observation.c.run)
            .where(observation.c.kind == kind)
            .where(observation.c.fact[field].as_string() == value)
            .group_by(observation.c.run)
            .order_by(observation.c.run.desc())
            .limit(limit)
        )
        return {int(run) for run in self._connection.execute(query).scalars() if run is not None}
