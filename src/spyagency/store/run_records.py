"""What the run-state repository (``store.run_states``) takes and returns about runs: the saved
assessment plus bookkeeping the domain does not keep (since when a state holds, the version
used as an ETag), what a save changed, and what the engine remembers of its last save.

These types stay apart from the repository because many read them without it: the engine
(``StateChange``, ``SavedRun``), the alert rules, the JSON API and the pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from spyagency.domain.evidence import Evidence
from spyagency.domain.states import Verdict, WorkflowState
from spyagency.domain.verdict import RunAssessment


@dataclass(frozen=True)
class WorkflowRecord:
    run: int
    workflow: str
    state: WorkflowState
    state_since: datetime
    evidence: tuple[Evidence, ...]
    proven_at: datetime | None
    deadline: datetime | None
    counted: bool
    optional: bool
    ignored_by: str | None
    updated_at: datetime


@dataclass(frozen=True)
class RunRecord:
    assessment: RunAssessment
    verdict_since: datetime
    updated_at: datetime
    version: int
    workflows: tuple[WorkflowRecord, ...]

    @property
    def run(self) -> int:
        return self.assessment.run

    @property
    def verdict(self) -> Verdict:
        return self.assessment.verdict

    @property
    def etag(self) -> str:
        """Changes exactly when what the API shows of the run changes."""
        return f'"{self.run}-{self.version}"'

    def workflow(self, name: str) -> WorkflowRecord | None:
        return next((w for w in self.workflows if w.workflow == name), None)

    @property
    def summary(self) -> RunSummary:
        """The run-level line of this record, as ``list_summaries`` reads it."""
        assessment = self.assessment
        return RunSummary(
            run=assessment.run,
            verdict=assessment.verdict,
            automatic_verdict=assessment.automatic_verdict,
            reasons=tuple(assessment.reasons),
            verdict_since=self.verdict_since,
            stop=assessment.stop,
            lock_in_at=assessment.lock_in_at,
            locked_at=assessment.locked_at,
            released_at=assessment.released_at,
            proof_complete_at=assessment.proof_complete_at,
            stale_sources=tuple(source.value for source in assessment.stale_sources),
            updated_at=self.updated_at,
            version=self.version,
        )


@dataclass(frozen=True)
class WorkflowChange:
    workflow: str
    old: WorkflowState | None
    new: WorkflowState | None


@dataclass(frozen=True)
class StateChange:
    """The outcome of saving one assessment. ``old_verdict`` is None for a run seen first."""

    run: int
    old_verdict: Verdict | None
    new_verdict: Verdict
    workflow_changes: tuple[WorkflowChange, ...]
    version: int
    changed: bool

    @property
    def verdict_changed(self) -> bool:
        return self.old_verdict != self.new_verdict


@dataclass(frozen=True)
class RunSummary:
    """A run's verdict line without its workflows or evidence: what lists need, cheap to read
    (the API's run list and the dashboard's rows both read it)."""

    run: int
    verdict: Verdict
    automatic_verdict: Verdict
    reasons: tuple[str, ...]
    verdict_since: datetime
    stop: datetime | None
    lock_in_at: datetime | None
    locked_at: datetime | None
    released_at: datetime | None
    proof_complete_at: datetime | None
    stale_sources: tuple[str, ...]
    updated_at: datetime
    version: int

    @property
    def etag(self) -> str:
        return f'"{self.run}-{self.version}"'

    @property
    def overridden(self) -> bool:
        """An override changed the automatic verdict."""
        return self.verdict is not self.automatic_verdict


@dataclass(frozen=True)
class SavedRun:
    """What was last saved for a run, as the only writer of run states remembers it: lets the
    next save skip reading the run back (the version check still catches any other writer)."""

    assessment: RunAssessment
    version: int
