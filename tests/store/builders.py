"""Builders for store tests: assessments and overrides with only what a test cares about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from spyagency.domain.evidence import Evidence
from spyagency.domain.lifecycle import WorkflowAssessment
from spyagency.domain.overrides import Override, OverrideKind
from spyagency.domain.states import Source, Verdict, WorkflowState
from spyagency.domain.verdict import RunAssessment

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def workflow(
    name: str, state: WorkflowState, note: str = "", proven_at: datetime | None = None
) -> WorkflowAssessment:
    evidence = (Evidence(Source.CONDDB, note or f"{name} is {state.value}", T0, ref="x:1"),)
    return WorkflowAssessment(
        workflow=name,
        state=state,
        evidence=evidence,
        proven_at=proven_at,
        deadline=at(48 * 60),
        streams=("Express",),
    )


def assessment(
    run: int,
    verdict: Verdict = Verdict.PENDING,
    reasons: tuple[str, ...] = ("waiting",),
    /,
    **states: WorkflowState,
) -> RunAssessment:
    """``assessment(1, Verdict.READY, PromptCalibProdSiPixelAli=WorkflowState.IN_DB)``."""
    return RunAssessment(
        run=run,
        verdict=verdict,
        automatic_verdict=verdict,
        reasons=reasons,
        workflows=tuple(workflow(name, state) for name, state in states.items()),
        stop=T0,
        lock_in_at=at(48 * 60),
    )


def override(
    run: int,
    kind: OverrideKind = OverrideKind.HOLD,
    created: float = 0,
    expires: float = 60,
    workflow: str | None = None,
) -> Override:
    return Override(
        run=run,
        kind=kind,
        who="expert",
        why="checking the alignment by hand",
        created_at=at(created),
        expires_at=at(expires),
        workflow=workflow,
    )
