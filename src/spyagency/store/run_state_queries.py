"""Reading the derived state: one run, pages of runs, counts for metrics, a workflow's record."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, func, select

from spyagency.domain.evidence import Evidence
from spyagency.domain.queue import QueuedRun
from spyagency.domain.states import Verdict, WorkflowState
from spyagency.store.batches import chunked
from spyagency.store.codec import assessment_from_dict
from spyagency.store.run_records import RunRecord, RunSummary, WorkflowRecord
from spyagency.store.schema import run_state, workflow_state

FINAL_VERDICTS = (Verdict.RELEASED.value, Verdict.MISSED.value)


class RunStateQueries:
    _connection: Connection

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
        columns = (
            c.run,
            c.verdict,
            c.automatic_verdict,
            c.reasons,
            c.verdict_since,
            c.stop,
            c.lock_in_at,
            c.locked_at,
            c.released_at,
            c.proof_complete_at,
            c.stale_sources,
            c.updated_at,
            c.version,
        )
        query = _filtered(select(*columns), verdict, run_min, run_max, before_run)
        if among is not None:
            query = query.where(c.run.in_(list(among)))
        rows = self._connection.execute(query.order_by(c.run.desc()).limit(limit)).mappings()
        return [
            RunSummary(
                run=int(row["run"]),
                verdict=Verdict(row["verdict"]),
                automatic_verdict=Verdict(row["automatic_verdict"]),
                reasons=tuple(str(reason) for reason in row["reasons"] or ()),
                verdict_since=row["verdict_since"],
                stop=row["stop"],
                lock_in_at=row["lock_in_at"],
                locked_at=row["locked_at"],
                released_at=row["released_at"],
                proof_complete_at=row["proof_complete_at"],
                stale_sources=tuple(str(source) for source in row["stale_sources"] or ()),
                updated_at=row["updated_at"],
                version=int(row["version"]),
            )
            for row in rows
        ]

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
        return [
            QueuedRun(
                run=int(row["run"]),
                verdict=Verdict(row["verdict"]),
                verdict_since=row["verdict_since"],
                reasons=tuple(str(reason) for reason in row["reasons"] or ()),
                locked=row["locked_at"] is not None,
            )
            for row in self._connection.execute(query).mappings()
        ]

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
        return [_workflow_record(row) for row in self._connection.execute(query).mappings()]

    def _runs(self, query: Select[Any]) -> list[RunRecord]:
        rows = list(self._connection.execute(query).mappings())
        workflows = self._workflows_of(int(row["run"]) for row in rows)
        return [
            RunRecord(
                assessment=assessment_from_dict(row["assessment"]),
                verdict_since=row["verdict_since"],
                updated_at=row["updated_at"],
                version=int(row["version"]),
                workflows=tuple(workflows.get(int(row["run"]), ())),
            )
            for row in rows
        ]

    def _workflows_of(self, runs: Iterable[int]) -> dict[int, list[WorkflowRecord]]:
        found: dict[int, list[WorkflowRecord]] = {}
        for chunk in chunked(runs):
            query = (
                select(workflow_state)
                .where(workflow_state.c.run.in_(chunk))
                .order_by(workflow_state.c.run, workflow_state.c.workflow)
            )
            for row in self._connection.execute(query).mappings():
                record = _workflow_record(row)
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


def _workflow_record(row: RowMapping) -> WorkflowRecord:
    return WorkflowRecord(
        run=int(row["run"]),
        workflow=row["workflow"],
        state=WorkflowState(row["state"]),
        state_since=row["state_since"],
        evidence=tuple(Evidence.from_dict(item) for item in row["evidence"]),
        proven_at=row["proven_at"],
        deadline=row["deadline"],
        counted=bool(row["counted"]),
        optional=bool(row["optional"]),
        ignored_by=row["ignored_by"],
        updated_at=row["updated_at"],
    )
