"""Saving the derived state of a run and of its workflows, kept current by the engine.

``save_run`` is the only writer. It compares the new assessment with the stored one and:

1. writes nothing when nothing changed (the engine re-evaluates often; most passes are no-ops);
2. otherwise bumps ``version`` (the API's ETag) and ``updated_at``;
3. moves ``verdict_since`` / ``state_since`` only when the verdict / a workflow state changed;
4. appends an ``event`` row per verdict or workflow-state change, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, bindparam, delete, insert, select, update

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


_UPDATE_WORKFLOW = (
    update(workflow_state)
    .where(
        and_(
            workflow_state.c.run == bindparam("_run"),
            workflow_state.c.workflow == bindparam("_workflow"),
        )
    )
    .values(
        {name: bindparam(f"_{name}") for name in (*WORKFLOW_FIELDS, "state_since", "updated_at")}
    )
)


class ConcurrentUpdateError(RuntimeError):
    """Another writer changed the run between our read and our write."""


@dataclass
class _WorkflowPlan:
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    changes: list[WorkflowChange] = field(default_factory=list)
    evidence: dict[str, list[JsonDict]] = field(default_factory=dict)


class RunStateWriter:
    def __init__(self, connection: Connection, events: EventRepository) -> None:
        self._connection = connection
        self._events = events

    def save_run(self, assessment: RunAssessment, now: datetime) -> StateChange:
        names = [w.workflow for w in assessment.workflows]
        if len(names) != len(set(names)):
            raise ValueError(f"run {assessment.run}: a workflow is assessed twice: {names}")
        # FOR UPDATE serialises savers of one run on PostgreSQL; SQLite's write lock already does.
        query = select(run_state).where(run_state.c.run == assessment.run).with_for_update()
        old = self._connection.execute(query).mappings().first()
        encoded = assessment_to_dict(assessment)
        old_verdict = Verdict(old["verdict"]) if old is not None else None
        if old is not None and old["assessment"] == encoded:
            return StateChange(
                assessment.run, old_verdict, assessment.verdict, (), int(old["version"]), False
            )

        version = self._write_run(assessment, encoded, old, now)
        plan = self._plan_workflows(assessment, now)
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

    def _write_run(
        self, assessment: RunAssessment, encoded: JsonDict, old: RowMapping | None, now: datetime
    ) -> int:
        values = {
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
        if old is None:
            self._connection.execute(
                insert(run_state).values(run=assessment.run, verdict_since=now, version=1, **values)
            )
            return 1
        version = int(old["version"])
        same_verdict = old["verdict"] == assessment.verdict.value
        result = self._connection.execute(
            update(run_state)
            .where(run_state.c.run == assessment.run, run_state.c.version == version)
            .values(
                verdict_since=old["verdict_since"] if same_verdict else now,
                version=version + 1,
                **values,
            )
        )
        if result.rowcount != 1:
            raise ConcurrentUpdateError(f"run {assessment.run} changed while it was being saved")
        return version + 1

    def _plan_workflows(self, assessment: RunAssessment, now: datetime) -> _WorkflowPlan:
        query = select(workflow_state).where(workflow_state.c.run == assessment.run)
        stored = {row["workflow"]: row for row in self._connection.execute(query).mappings()}
        plan = _WorkflowPlan()
        for item in assessment.workflows:
            values = _workflow_values(item)
            plan.evidence[item.workflow] = values["evidence"]
            old = stored.pop(item.workflow, None)
            if old is None:
                plan.inserts.append({**values, "state_since": now, "updated_at": now})
                plan.changes.append(WorkflowChange(item.workflow, None, item.state))
                continue
            if all(old[name] == values[name] for name in WORKFLOW_FIELDS):
                continue
            old_state = WorkflowState(old["state"])
            moved = old_state is not item.state
            since = now if moved else old["state_since"]
            plan.updates.append({**values, "state_since": since, "updated_at": now})
            if moved:
                plan.changes.append(WorkflowChange(item.workflow, old_state, item.state))
        for name, old in stored.items():
            # The catalogue no longer lists the workflow for this run.
            plan.deletes.append(name)
            plan.changes.append(WorkflowChange(name, WorkflowState(old["state"]), None))
        return plan

    def _write_workflows(self, run: int, plan: _WorkflowPlan) -> None:
        table = workflow_state
        if plan.inserts:
            self._connection.execute(insert(table), [{**row, "run": run} for row in plan.inserts])
        if plan.updates:
            # One statement for every changed row (an executemany), not one per row: a run's
            # workflows mostly change together, and per-row statements dominated ingest.
            self._connection.execute(
                _UPDATE_WORKFLOW,
                [
                    {"_run": run, **{f"_{name}": value for name, value in row.items()}}
                    for row in plan.updates
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
