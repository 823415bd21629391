"""Where the forecast's step times come from: what a run knows, read as steps.

A workflow's steps are dated by the upstream's own times, the same for a final run's history
and for an open run's progress: the harvest by the ``created`` time of its first harvest file
(of each input tag; the latest of them for a workflow writing several), the upload by the
``attempted`` time of its first upload marker, and the proof by ``proven_at``. The engine
reads them from its knowledge of a run; the store from the stored observations of final runs
(``store/step_history.py``); both hand them over as a ``FinishedRun`` here, so both give the
same samples.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from spyagency.domain.catalogue import Catalogue
from spyagency.domain.forecast import RunProgress, WorkflowProgress
from spyagency.domain.forecast_history import StepSample
from spyagency.domain.knowledge import RunKnowledge
from spyagency.domain.lifecycle import WorkflowAssessment
from spyagency.domain.states import FAILURE_STATES, WorkflowState
from spyagency.domain.verdict import RunAssessment


@dataclass(frozen=True)
class FinishedWorkflow:
    workflow: str
    state: WorkflowState
    proven_at: datetime | None


@dataclass(frozen=True)
class FinishedRun:
    """A final run's counted workflows and the first times of its harvests and uploads."""

    run: int
    stop: datetime
    run_class: str | None
    workflows: tuple[FinishedWorkflow, ...]
    harvested: Mapping[str, datetime]  # input tag -> created time of its first harvest file
    attempted: Mapping[str, datetime]  # input tag -> time of its first upload marker


def first_times(pairs: Iterable[tuple[str, datetime]]) -> dict[str, datetime]:
    """The earliest time per key."""
    found: dict[str, datetime] = {}
    for key, at in pairs:
        if key not in found or at < found[key]:
            found[key] = at
    return found


def _workflow_time(
    catalogue: Catalogue, workflow: str, by_tag: Mapping[str, datetime]
) -> datetime | None:
    """When every input tag of ``workflow`` that reached the step had reached it."""
    spec = catalogue.by_name(workflow)
    if spec is None:
        return None
    times = [by_tag[tag] for tag in spec.input_tags if tag in by_tag]
    return max(times) if times else None


def step_samples(finished: FinishedRun, catalogue: Catalogue) -> list[StepSample]:
    """One sample per counted workflow that ended proven or failed (others say nothing)."""
    samples = []
    stop = finished.stop
    for item in finished.workflows:
        proven = item.state.is_satisfied and item.proven_at is not None
        if not proven and item.state not in FAILURE_STATES:
            continue
        harvest = _workflow_time(catalogue, item.workflow, finished.harvested)
        marker = _workflow_time(catalogue, item.workflow, finished.attempted)
        proof = item.proven_at if proven else None
        samples.append(
            StepSample(
                run=finished.run,
                workflow=item.workflow,
                run_class=finished.run_class,
                stop=stop,
                harvest_s=_after(harvest, stop),
                marker_s=_after(marker, stop),
                proof_s=_after(proof, stop),
                failure=None if proven else item.state,
            )
        )
    return samples


def _after(moment: datetime | None, stop: datetime) -> float | None:
    # A time before the stop (a clock skew upstream) counts as at the stop.
    return None if moment is None else max(0.0, (moment - stop).total_seconds())


def _counted(assessment: RunAssessment) -> list[WorkflowAssessment]:
    return [w for w in assessment.counted if w.ignored_by is None]


def _firsts(knowledge: RunKnowledge, catalogue: Catalogue) -> tuple[dict[str, datetime], ...]:
    tags = [tag for spec in catalogue.workflows for tag in spec.input_tags]
    harvested = first_times((f.input_tag, f.created) for f in knowledge.harvest_files(tags))
    attempted = first_times((m.input_tag, m.attempted) for m in knowledge.upload_markers(tags))
    return harvested, attempted


def finished_run(
    assessment: RunAssessment, knowledge: RunKnowledge, catalogue: Catalogue
) -> FinishedRun | None:
    """What a final run leaves to the history (None without a stop time)."""
    if assessment.stop is None:
        return None
    harvested, attempted = _firsts(knowledge, catalogue)
    info = knowledge.info
    return FinishedRun(
        run=assessment.run,
        stop=assessment.stop,
        run_class=info.run_class if info else None,
        workflows=tuple(
            FinishedWorkflow(w.workflow, w.state, w.proven_at) for w in _counted(assessment)
        ),
        harvested=harvested,
        attempted=attempted,
    )


def run_progress(
    assessment: RunAssessment, knowledge: RunKnowledge, catalogue: Catalogue
) -> RunProgress:
    """Where an open run's counted workflows stand, with when their current step began."""
    harvested, attempted = _firsts(knowledge, catalogue)
    stop = assessment.stop
    items = []
    for w in _counted(assessment):
        started: datetime | None = None
        if w.state is WorkflowState.HARVESTED:
            started = _workflow_time(catalogue, w.workflow, harvested)
        elif w.state is WorkflowState.UPLOAD_ATTEMPTED:
            started = _workflow_time(catalogue, w.workflow, attempted)
        elif w.state in (WorkflowState.WAITING_EXPRESS, WorkflowState.HARVESTING):
            started = stop
        if started is not None and stop is not None:
            started = max(started, stop)
        group = ",".join(w.streams)
        items.append(WorkflowProgress(w.workflow, w.state, started, w.proven_at, group))
    info = knowledge.info
    return RunProgress(
        run=assessment.run,
        run_class=info.run_class if info else None,
        stop=stop,
        workflows=tuple(items),
    )
