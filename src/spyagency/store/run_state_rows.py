"""How a run's state is laid out in ``run_state`` and ``workflow_state`` rows, both ways.

Writing, an assessment becomes the column values of its run row and of one row per workflow;
reading, a row becomes a ``RunRecord``, ``RunSummary``, ``WorkflowRecord`` or ``QueuedRun``.
The run-state repository (``store.run_states``) runs the queries; the translation lives here
so that the repository reads as what it stores and asks, and each mapping is written once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping

from spyagency.domain.evidence import Evidence
from spyagency.domain.lifecycle import WorkflowAssessment
from spyagency.domain.queue import QueuedRun
from spyagency.domain.states import Verdict, WorkflowState
from spyagency.domain.verdict import RunAssessment
from spyagency.store.codec import JsonDict, assessment_from_dict
from spyagency.store.run_records import RunRecord, RunSummary, WorkflowRecord
from spyagency.store.schema import run_state

# The run-level columns a summary is made of: no assessment JSON, so nothing to decode.
SUMMARY_COLUMNS = (
    run_state.c.run,
    run_state.c.verdict,
    run_state.c.automatic_verdict,
    run_state.c.reasons,
    run_state.c.verdict_since,
    run_state.c.stop,
    run_state.c.lock_in_at,
    run_state.c.locked_at,
    run_state.c.released_at,
    run_state.c.proof_complete_at,
    run_state.c.stale_sources,
    run_state.c.updated_at,
    run_state.c.version,
)


def run_row_values(assessment: RunAssessment, encoded: JsonDict, now: datetime) -> dict[str, Any]:
    """The ``run_state`` columns an assessment sets (``encoded`` is its stored JSON form);
    ``run``, ``version`` and ``verdict_since`` are the saver's to decide."""
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


def workflow_row_values(item: WorkflowAssessment) -> dict[str, Any]:
    """The ``workflow_state`` columns a workflow's assessment sets, bookkeeping aside."""
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


def run_record_from_row(row: RowMapping, workflows: Iterable[WorkflowRecord]) -> RunRecord:
    """A whole ``run_state`` row, its assessment decoded, with the run's workflow rows."""
    return RunRecord(
        assessment=assessment_from_dict(row["assessment"]),
        verdict_since=row["verdict_since"],
        updated_at=row["updated_at"],
        version=int(row["version"]),
        workflows=tuple(workflows),
    )


def run_summary_from_row(row: RowMapping) -> RunSummary:
    """A row of ``SUMMARY_COLUMNS``."""
    return RunSummary(
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


def queued_run_from_row(row: RowMapping) -> QueuedRun:
    """A row of ``run``, ``verdict``, ``verdict_since``, ``reasons`` and ``locked_at``."""
    return QueuedRun(
        run=int(row["run"]),
        verdict=Verdict(row["verdict"]),
        verdict_since=row["verdict_since"],
        reasons=tuple(str(reason) for reason in row["reasons"] or ()),
        locked=row["locked_at"] is not None,
    )


def workflow_record_from_row(row: RowMapping) -> WorkflowRecord:
    """A whole ``workflow_state`` row, its evidence decoded."""
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
