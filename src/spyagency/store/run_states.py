"""The run-state repository: the derived state of every run and of its workflows, saved by the
engine and read back by the API, the pages and the engine itself, on one connection.

``save_run`` is the only writer. It compares the new assessment with the stored one and:

1. writes nothing when nothing changed (the engine re-evaluates often; most passes are no-ops);
2. otherwise bumps ``version`` (the API's ETag) and ``updated_at``;
3. moves ``verdict_since`` / ``state_since`` only when the verdict / a workflow state changed;
4. appends an ``event`` row per verdict or workflow-state change, in the same transaction.

The readers: one run, pages of runs or of their summaries, the open runs and the queue, the
counts for metrics, and one workflow's record across runs.

The types it returns (``RunRecord``, ``RunSummary``, ``StateChange``, ``SavedRun``...) live in
``store.run_records``: the engine and the web layer use them without needing the repository.
Two helpers keep this module to the transaction logic and the queries: ``store.run_state_rows``
translates between those types and table rows, and ``store.run_state_changes`` plans, writes
and records a save's changes to the workflow rows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, func, insert, select, update

from spyagency.domain.queue import QueuedRun
from spyagency.domain.states import Verdict, WorkflowState
from spyagency.domain.verdict import RunAssessment
from spyagency.store.batches import chunked
from spyagency.store.codec import assessment_to_dict
from spyagency.store.events import EventRepository
from spyagency.store.run_records import RunRecord, RunSummary, SavedRun, StateChange, WorkflowRecord
from spyagency.store.run_state_changes import plan_workflows, record_events, write_workflows
from spyagency.store.run_state_rows import (
    SUMMARY_COLUMNS,
    queued_run_from_row,
    run_record_from_row,
    run_row_values,
    run_summary_from_row,
    workflow_record_from_row,
    workflow_row_values,
)
from spyagency.store.schema import run_state, workflow_state

FINAL_VERDICTS = (Verdict.RELEASED.value, Verdict.MISSED.value)


class ConcurrentUpdateError(RuntimeError):
    """Another writer changed the run between our read and our write."""


class RunStateRepository:
    """Every read and write of ``run_state`` and ``workflow_state``."""

    def __init__(self, connection: Connection, events: EventRepository) -> None:
        self._connection = connection
        self._events = events

    # Writing: ``save_run`` and its steps.

    def save_run(
        self, assessment: RunAssessment, now: datetime, previous: SavedRun | None = None
    ) -> StateChange:
        """Save ``assessment``; ``previous`` is what this writer saved last for the run (then
        nothing is read back: the changes are computed from it)."""
        names = [w.workflow for w in assessment.workflows]
        if len(names) != len(set(names)):
            raise ValueError(f"run {assessment.run}: a workflow is assessed twice: {names}")
        if previous is not None:
            return self._save_after(assessment, previous, now)
        # FOR UPDATE serialises savers of one run on PostgreSQL; SQLite's write lock already does.
        query = select(run_state).where(run_state.c.run == assessment.run).with_for_update()
        old = self._connection.execute(query).mappings().first()
        encoded = assessment_to_dict(assessment)
        old_verdict = Verdict(old["verdict"]) if old is not None else None
        if old is not None and old["assessment"] == encoded:
            return StateChange(
                assessment.run, old_verdict, assessment.verdict, (), int(old["version"]), False
            )

        values = run_row_values(assessment, encoded, now)
        if old is None:
            self._connection.execute(
                insert(run_state).values(run=assessment.run, verdict_since=now, version=1, **values)
            )
            version = 1
        else:
            version = self._update_run(assessment, values, int(old["version"]), old_verdict, now)
        query = select(workflow_state).where(workflow_state.c.run == assessment.run)
        stored = {row["workflow"]: row for row in self._connection.execute(query).mappings()}
        return self._finish(assessment, old_verdict, stored, version, now)

    def _save_after(
        self, assessment: RunAssessment, previous: SavedRun, now: datetime
    ) -> StateChange:
        old_verdict = previous.assessment.verdict
        if previous.assessment == assessment:
            return StateChange(
                assessment.run, old_verdict, assessment.verdict, (), previous.version, False
            )
        values = run_row_values(assessment, assessment_to_dict(assessment), now)
        version = self._update_run(assessment, values, previous.version, old_verdict, now)
        stored = {w.workflow: workflow_row_values(w) for w in previous.assessment.workflows}
        return self._finish(assessment, old_verdict, stored, version, now)

    def _update_run(
        self,
        assessment: RunAssessment,
        values: dict[str, Any],
        version: int,
        old_verdict: Verdict | None,
        now: datetime,
    ) -> int:
        if old_verdict != assessment.verdict:
            values = {**values, "verdict_since": now}
        result = self._connection.execute(
            update(run_state)
            .where(run_state.c.run == assessment.run, run_state.c.version == version)
            .values(version=version + 1, **values)
        )
        if result.rowcount != 1:
            raise ConcurrentUpdateError(f"run {assessment.run} changed while it was being saved")
        return version + 1

    def _finish(
        self,
        assessment: RunAssessment,
        old_verdict: Verdict | None,
        stored: Mapping[str, Mapping[Any, Any]],
        version: int,
        now: datetime,
    ) -> StateChange:
        plan = plan_workflows(assessment, stored, now)
        write_workflows(self._connection, assessment.run, plan)
        record_events(self._events, assessment, old_verdict, plan, now)
        return StateChange(
            run=assessment.run,
            old_verdict=old_verdict,
            new_verdict=assessment.verdict,
            workflow_changes=tuple(plan.changes),
            version=version,
            changed=True,
        )

    # Reading.

    def get_run(self, run: int) -> RunRecord | None:
        found = self._runs(select(run_state).where(run_state.c.run == run))
        return found[0] if found else None

    def list_summaries(
        self,
        verdict: Verdict | None = None,
        run_min: int | None = None,
        run_max: int | None = None,
        limit: int | None = 100,
        before_run: int | None = None,
        among: Collection[int] | None = None,
    ) -> list[RunSummary]:
        """Like ``list_runs`` but only the run-level columns: no assessment JSON to decode and
        no workflow rows, so a page of 500 runs is one small query. ``among``: only these
        runs (say, those carrying a label)."""
        c = run_state.c
        query = _filtered(select(*SUMMARY_COLUMNS), verdict, run_min, run_max, before_run)
        if among is not None:
            query = query.where(c.run.in_(list(among)))
        rows = self._connection.execute(query.order_by(c.run.desc()).limit(limit)).mappings()
        return [run_summary_from_row(row) for row in rows]

    def list_runs(
        self,
        verdict: Verdict | None = None,
        run_min: int | None = None,
        run_max: int | None = None,
        limit: int | None = 100,
        before_run: int | None = None,
    ) -> list[RunRecord]:
        """Newest run first (``limit=None``: all). Page on with ``before_run=<last run of the
        previous page>``: keyset pagination stays exact while new runs arrive, unlike OFFSET."""
        query = _filtered(select(run_state), verdict, run_min, run_max, before_run)
        return self._runs(query.order_by(run_state.c.run.desc()).limit(limit))

    def open_runs(self) -> list[int]:
        """Runs whose verdict can still change (not released or missed), oldest first."""
        query = (
            select(run_state.c.run)
            .where(run_state.c.verdict.not_in(FINAL_VERDICTS))
            .order_by(run_state.c.run)
        )
        return [int(run) for run in self._connection.execute(query).scalars()]

    def queued_runs(self) -> list[QueuedRun]:
        """The runs not final yet, as the queue needs them (``domain.queue``), oldest first."""
        c = run_state.c
        query = (
            select(c.run, c.verdict, c.verdict_since, c.reasons, c.locked_at)
            .where(c.verdict.not_in(FINAL_VERDICTS))
            .order_by(c.run)
        )
        return [queued_run_from_row(row) for row in self._connection.execute(query).mappings()]

    def verdicts(self) -> dict[int, Verdict]:
        """Every run's current verdict, without decoding a single assessment: what an engine
        needs at start-up (decoding every stored assessment cost ~70 kB a run at peak)."""
        query = select(run_state.c.run, run_state.c.verdict)
        return {int(run): Verdict(verdict) for run, verdict in self._connection.execute(query)}

    def open_states_since(self) -> dict[int, dict[str, datetime]]:
        """For runs still open: since when each workflow has been in its state (stuck alerts)."""
        query = (
            select(workflow_state.c.run, workflow_state.c.workflow, workflow_state.c.state_since)
            .join(run_state, run_state.c.run == workflow_state.c.run)
            .where(run_state.c.verdict.not_in(FINAL_VERDICTS))
        )
        found: dict[int, dict[str, datetime]] = {}
        for run, workflow, since in self._connection.execute(query):
            found.setdefault(int(run), {})[str(workflow)] = since
        return found

    def counts_by_verdict(self) -> dict[Verdict, int]:
        """Every verdict, with zero for those no run has (gauges need the zeros)."""
        counts = dict.fromkeys(Verdict, 0)
        query = select(run_state.c.verdict, func.count()).group_by(run_state.c.verdict)
        for verdict, count in self._connection.execute(query):
            counts[Verdict(verdict)] = int(count)
        return counts

    def counts_by_workflow_state(
        self, open_only: bool = False
    ) -> dict[tuple[str, WorkflowState], int]:
        """(workflow, state) -> number of runs; ``open_only`` limits to runs still open."""
        query = select(workflow_state.c.workflow, workflow_state.c.state, func.count()).group_by(
            workflow_state.c.workflow, workflow_state.c.state
        )
        if open_only:
            query = query.join(run_state, run_state.c.run == workflow_state.c.run).where(
                run_state.c.verdict.not_in(FINAL_VERDICTS)
            )
        return {
            (str(workflow), WorkflowState(state)): int(count)
            for workflow, state, count in self._connection.execute(query)
        }

    def workflow_history(
        self, workflow: str, limit: int = 100, before_run: int | None = None
    ) -> list[WorkflowRecord]:
        """How ``workflow`` fared run after run, newest run first (keyset by run)."""
        query = select(workflow_state).where(workflow_state.c.workflow == workflow)
        if before_run is not None:
            query = query.where(workflow_state.c.run < before_run)
        query = query.order_by(workflow_state.c.run.desc()).limit(limit)
        return [workflow_record_from_row(row) for row in self._connection.execute(query).mappings()]

    def _runs(self, query: Select[Any]) -> list[RunRecord]:
        rows = list(self._connection.execute(query).mappings())
        workflows = self._workflows_of(int(row["run"]) for row in rows)
        return [run_record_from_row(row, workflows.get(int(row["run"]), ())) for row in rows]

    def _workflows_of(self, runs: Iterable[int]) -> dict[int, list[WorkflowRecord]]:
        found: dict[int, list[WorkflowRecord]] = {}
        for chunk in chunked(runs):
            query = (
                select(workflow_state)
                .where(workflow_state.c.run.in_(chunk))
                .order_by(workflow_state.c.run, workflow_state.c.workflow)
            )
            for row in self._connection.execute(query).mappings():
                record = workflow_record_from_row(row)
                found.setdefault(record.run, []).append(record)
        return found


def _filtered(
    query: Select[Any],
    verdict: Verdict | None,
    run_min: int | None,
    run_max: int | None,
    before_run: int | None,
) -> Select[Any]:
    if verdict is not None:
        query = query.where(run_state.c.verdict == verdict.value)
    if run_min is not None:
        query = query.where(run_state.c.run >= run_min)
    if run_max is not None:
        query = query.where(run_state.c.run <= run_max)
    if before_run is not None:
        query = query.where(run_state.c.run < before_run)
    return query
