"""Saving the derived state of a run and of its workflows, kept current by the engine.

``save_run`` is the only writer. It compares the new assessment with the stored one and:

1. writes nothing when nothing changed (the engine re-evaluates often; most passes are no-ops);
2. otherwise bumps ``version`` (the API's ETag) and ``updated_at``;
3. moves ``verdict_since`` / ``state_since`` only when the verdict / a workflow state changed;
4. appends an ``event`` row per verdict or workflow-state change, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, insert, select, update

from spyagency.domain.lifecycle import WorkflowAssessment
from spyagency.domain.states import Verdict, WorkflowState
from spyagency.domain.verdict import RunAssessment
from spyagency.store.codec import JsonDict, assessment_to_dict
from spyagency.store.events import EventKind, EventRepository, NewEvent
from spyagency.store.run_records import StateChange, WorkflowChange
from spyagency.store.schema import run_state, workflow_state

# Columns a workflow row is compared on; ``state_since`` and ``updated_at`` are bookkeeping.
WORKFLOW_FIELDS = (
    "state",
    "evidence",
    "proven_at",
    "deadline",
    "counted",
    "optional",
    "ignored_by",
)


def _update_workflow(columns: tuple[str, ...]) -> Any:
    """One UPDATE of a workflow row, run as an executemany over the changed rows."""
    return (
        update(workflow_state)
        .where(
            and_(
                workflow_state.c.run == bindparam("_run"),
                workflow_state.c.workflow == bindparam("_workflow"),
            )
        )
        .values({name: bindparam(f"_{name}") for name in columns})
    )


# A workflow whose state moved gets a new ``state_since``; one that only changed its evidence
# or deadline keeps the stored one (so the saver never needs to read it).
_UPDATE_MOVED_WORKFLOW = _update_workflow((*WORKFLOW_FIELDS, "state_since", "updated_at"))
_UPDATE_KEPT_WORKFLOW = _update_workflow((*WORKFLOW_FIELDS, "updated_at"))


@dataclass(frozen=True)
class SavedRun:
    """What was last saved for a run, as the only writer of run states remembers it: lets the
    next save skip reading the run back (the version check still catches any other writer)."""

    assessment: RunAssessment
    version: int


class ConcurrentUpdateError(RuntimeError):
    """Another writer changed the run between our read and our write."""


@dataclass
class _WorkflowPlan:
    inserts: list[dict[str, Any]] = field(default_factory=list)
    moved: list[dict[str, Any]] = field(default_factory=list)  # updates with a new state
    kept: list[dict[str, Any]] = field(default_factory=list)  # updates in the same state
    deletes: list[str] = field(default_factory=list)
    changes: list[WorkflowChange] = field(default_factory=list)
    evidence: dict[str, list[JsonDict]] = field(default_factory=dict)


class RunStateWriter:
    def __init__(self, connection: Connection, events: EventRepository) -> None:
        self._connection = connection
        self._events = events

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

        values = _run_values(assessment, encoded, now)
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
        values = _run_values(assessment, assessment_to_dict(assessment), now)
        version = self._update_run(assessment, values, previous.version, old_verdict, now)
        stored = {w.workflow: _workflow_values(w) for w in previous.assessment.workflows}
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
        plan = _plan_workflows(assessment, stored, now)
        self._write_workflows(assessment.run, plan)
        self._record_events(assessment, old_verdict, plan, now)
        return StateChange(
            run=assessment.run,
            old_verdict=old_verdict,
            new_verdict=assessment.verdict,
            workflow_changes=tuple(plan.changes),
            version=version,
            changed=True,
        )

    def _write_workflows(self, run: int, plan: _WorkflowPlan) -> None:
        table = workflow_state
        if plan.inserts:
            self._connection.execute(insert(table), [{**row, "run": run} for row in plan.inserts])
        # One statement for every changed row (an executemany), not one per row: a run's
        # workflows mostly change together, and per-row statements dominated ingest.
        for statement, rows in (
            (_UPDATE_MOVED_WORKFLOW, plan.moved),
            (_UPDATE_KEPT_WORKFLOW, plan.kept),
        ):
            if rows:
                self._connection.execute(
                    statement,
                    [
                        {"_run": run, **{f"_{name}": value for name, value in row.items()}}
                        for row in rows
                    ],
                )
        if plan.deletes:
            self._connection.execute(
                delete(table).where(table.c.run == run, table.c.workflow.in_(plan.deletes))
            )

    def _record_events(
        self,
        assessment: RunAssessment,
        old_verdict: Verdict | None,
        plan: _WorkflowPlan,
        now: datetime,
    ) -> None:
        if old_verdict != assessment.verdict:
            self._events.append(
                now,
                EventKind.VERDICT,
                run=assessment.run,
                old=old_verdict.value if old_verdict else None,
                new=assessment.verdict.value,
                detail={
                    "reasons": list(assessment.reasons),
                    "automatic_verdict": assessment.automatic_verdict.value,
                },
            )
        self._events.append_many(
            [
                NewEvent(
                    now,
                    EventKind.WORKFLOW_STATE,
                    run=assessment.run,
                    workflow=change.workflow,
                    old=change.old.value if change.old else None,
                    new=change.new.value if change.new else None,
                    detail={"evidence": plan.evidence.get(change.workflow, [])},
                )
                for change in plan.changes
            ]
        )


def _workflow_values(item: WorkflowAssessment) -> dict[str, Any]:
    return {
        "workflow": item.workflow,
        "state": item.state.value,
        "evidence": [e.to_dict() for e in item.evidence],
        "proven_at": item.proven_at,
        "deadline": item.deadline,
        "counted": item.counted,
        "optional": item.optional,
        "ignored_by": item.ignored_by,
    }


def _run_values(assessment: RunAssessment, encoded: JsonDict, now: datetime) -> dict[str, Any]:
    return {
        "verdict": assessment.verdict.value,
        "automatic_verdict": assessment.automatic_verdict.value,
        "reasons": list(assessment.reasons),
        "stop": assessment.stop,
        "lock_in_at": assessment.lock_in_at,
        "locked_at": assessment.locked_at,
        "released_at": assessment.released_at,
        "proof_complete_at": assessment.proof_complete_at,
        "stale_sources": [source.value for source in assessment.stale_sources],
        "updated_at": now,
        "assessment": encoded,
    }


def _plan_workflows(
    assessment: RunAssessment, stored: Mapping[str, Mapping[Any, Any]], now: datetime
) -> _WorkflowPlan:
    """The workflow rows to insert, update and delete, from what is stored (``stored`` holds
    at least ``WORKFLOW_FIELDS`` per workflow)."""
    remaining = dict(stored)
    plan = _WorkflowPlan()
    for item in assessment.workflows:
        values = _workflow_values(item)
        plan.evidence[item.workflow] = values["evidence"]
        old = remaining.pop(item.workflow, None)
        if old is None:
            plan.inserts.append({**values, "state_since": now, "updated_at": now})
            plan.changes.append(WorkflowChange(item.workflow, None, item.state))
            continue
        if all(old[name] == values[name] for name in WORKFLOW_FIELDS):
            continue
        old_state = WorkflowState(old["state"])
        if old_state is item.state:
            plan.kept.append({**values, "updated_at": now})
        else:
            plan.moved.append({**values, "state_since": now, "updated_at": now})
            plan.changes.append(WorkflowChange(item.workflow, old_state, item.state))
    for name, old in remaining.items():
        # The catalogue no longer lists the workflow for this run.
        plan.deletes.append(name)
        plan.changes.append(WorkflowChange(name, WorkflowState(old["state"]), None))
    return plan
