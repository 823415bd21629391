"""What one save of a run's state changes below the run row: the workflow rows to insert,
update and delete, and the events that record the verdict and workflow-state moves.

``RunStateRepository.save_run`` (``store.run_states``) decides whether anything changed and
writes the run row; it hands the rest here. A save compares the new assessment with what is
stored (``plan_workflows``), writes the difference in a fixed number of statements
(``write_workflows``) and appends one event per move (``record_events``), all on the
repository's connection, so inside its transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, insert, update

from spyagency.domain.states import Verdict, WorkflowState
from spyagency.domain.verdict import RunAssessment
from spyagency.store.codec import JsonDict
from spyagency.store.events import EventKind, EventRepository, NewEvent
from spyagency.store.run_records import WorkflowChange
from spyagency.store.run_state_rows import workflow_row_values
from spyagency.store.schema import workflow_state

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


@dataclass
class WorkflowPlan:
    """The workflow rows of one run to write, and the moves to record as events."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    moved: list[dict[str, Any]] = field(default_factory=list)  # updates with a new state
    kept: list[dict[str, Any]] = field(default_factory=list)  # updates in the same state
    deletes: list[str] = field(default_factory=list)
    changes: list[WorkflowChange] = field(default_factory=list)
    evidence: dict[str, list[JsonDict]] = field(default_factory=dict)


def plan_workflows(
    assessment: RunAssessment, stored: Mapping[str, Mapping[Any, Any]], now: datetime
) -> WorkflowPlan:
    """The workflow rows to insert, update and delete, from what is stored (``stored`` holds
    at least ``WORKFLOW_FIELDS`` per workflow)."""
    remaining = dict(stored)
    plan = WorkflowPlan()
    for item in assessment.workflows:
        values = workflow_row_values(item)
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


def write_workflows(connection: Connection, run: int, plan: WorkflowPlan) -> None:
    """Apply ``plan`` to the workflow rows of ``run``."""
    table = workflow_state
    if plan.inserts:
        connection.execute(insert(table), [{**row, "run": run} for row in plan.inserts])
    # One statement for every changed row (an executemany), not one per row: a run's
    # workflows mostly change together, and per-row statements dominated ingest.
    for statement, rows in (
        (_UPDATE_MOVED_WORKFLOW, plan.moved),
        (_UPDATE_KEPT_WORKFLOW, plan.kept),
    ):
        if rows:
            connection.execute(
                statement,
                [
                    {"_run": run, **{f"_{name}": value for name, value in row.items()}}
                    for row in rows
                ],
            )
    if plan.deletes:
        connection.execute(
            delete(table).where(table.c.run == run, table.c.workflow.in_(plan.deletes))
        )


def record_events(
    events: EventRepository,
    assessment: RunAssessment,
    old_verdict: Verdict | None,
    plan: WorkflowPlan,
    now: datetime,
) -> None:
    """An event for a changed verdict, and one per workflow whose state moved."""
    if old_verdict != assessment.verdict:
        events.append(
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
    events.append_many(
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
