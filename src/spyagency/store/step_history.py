"""The step history of final runs, as the forecast reads it (``domain/forecast_steps.py``).

Read once when the engine starts, for runs stopped within the forecast's window; from then
on the engine adds each run as it becomes final, from its memory. Three narrow reads, each
by run in chunks: the final runs' stop times, their counted workflows' final states and
proof times, and of their observations only the run information (its class), harvest files
and upload markers, whose upstream times date the steps. Retention keeps the latest
observation of every fact key, so compaction takes none of these away.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Connection, select

from spyagency.domain.facts import HarvestFile, RunInfo, UploadMarker, fact_from_dict
from spyagency.domain.forecast_steps import FinishedRun, FinishedWorkflow, first_times
from spyagency.domain.states import WorkflowState
from spyagency.store.batches import chunked
from spyagency.store.run_states import FINAL_VERDICTS
from spyagency.store.schema import observation, run_state, workflow_state

STEP_KINDS = (RunInfo.kind, HarvestFile.kind, UploadMarker.kind)


class StepHistoryRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def finished_runs(self, stopped_since: datetime) -> Iterator[FinishedRun]:
        """Final runs stopped at or after ``stopped_since``, oldest run first."""
        query = (
            select(run_state.c.run, run_state.c.stop)
            .where(
                run_state.c.verdict.in_(FINAL_VERDICTS),
                run_state.c.stop.is_not(None),
                run_state.c.stop >= stopped_since,
            )
            .order_by(run_state.c.run)
        )
        stops = {int(run): stop for run, stop in self._connection.execute(query)}
        for chunk in chunked(stops):
            yield from self._chunk(chunk, stops)

    def _chunk(self, runs: list[int], stops: dict[int, datetime]) -> Iterator[FinishedRun]:
        w = workflow_state.c
        workflows: dict[int, list[FinishedWorkflow]] = {}
        query = select(w.run, w.workflow, w.state, w.proven_at).where(
            w.run.in_(runs), w.counted.is_(True), w.optional.is_(False), w.ignored_by.is_(None)
        )
        for run, name, state, proven_at in self._connection.execute(query):
            workflows.setdefault(int(run), []).append(
                FinishedWorkflow(str(name), WorkflowState(state), proven_at)
            )
        classes: dict[int, str | None] = {}
        files: dict[int, list[tuple[str, datetime]]] = {}
        markers: dict[int, list[tuple[str, datetime]]] = {}
        o = observation.c
        facts = select(o.run, o.fact).where(o.run.in_(runs), o.kind.in_(STEP_KINDS))
        for run, data in self._connection.execute(facts):
            fact = fact_from_dict(data)
            if isinstance(fact, RunInfo):
                classes[int(run)] = fact.run_class
            elif isinstance(fact, HarvestFile):
                files.setdefault(int(run), []).append((fact.input_tag, fact.created))
            elif isinstance(fact, UploadMarker):
                markers.setdefault(int(run), []).append((fact.input_tag, fact.attempted))
        for run in runs:
            yield FinishedRun(
                run=run,
                stop=stops[run],
                run_class=classes.get(run),
                workflows=tuple(sorted(workflows.get(run, ()), key=lambda f: f.workflow)),
                harvested=first_times(files.get(run, ())),
                attempted=first_times(markers.get(run, ())),
            )
