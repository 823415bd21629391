"""The run page's read model: the run, its history and everything done about it, from one
read snapshot (a fixed handful of queries, none per workflow)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from spyagency.domain.policy import Policy
from spyagency.domain.states import WorkflowState
from spyagency.store.alerts import Alert
from spyagency.store.overrides import OverrideRecord
from spyagency.store.retention import ObservationSummary
from spyagency.store.run_labels import RunLabels
from spyagency.store.run_records import RunRecord
from spyagency.store.signals import Signal
from spyagency.store.uow import Transaction
from spyagency.web.pages.formatting import when
from spyagency.web.pages.timeline import TimelineEntry, merge_timeline


@dataclass(frozen=True)
class Deadline:
    name: str
    at: datetime | None
    meaning: str
    # Set once the deadline no longer runs (met, or the run is final): shown instead of a
    # countdown, which would otherwise read "overdue" on a run long released.
    outcome: str | None = None


@dataclass(frozen=True)
class RunPage:
    record: RunRecord
    labels: RunLabels
    fcsr: int | None
    timeline: list[TimelineEntry]
    overrides: list[OverrideRecord]
    alerts: list[Alert]
    signals: list[Signal]
    # Observations retention removed from the timeline, one line per source.
    compacted: list[ObservationSummary]

    def active_overrides(self, now: datetime) -> list[OverrideRecord]:
        return [item for item in self.overrides if item.override.active(now)]

    def past_overrides(self, now: datetime) -> list[OverrideRecord]:
        return [item for item in self.overrides if not item.override.active(now)]


def read_run_page(tx: Transaction, run: int) -> RunPage | None:
    record = tx.states.get_run(run)
    if record is None:
        return None
    timeline = merge_timeline(tx.observations.timeline(run), tx.events.for_run(run))
    return RunPage(
        record=record,
        labels=tx.labels.of_run(run),
        fcsr=tx.run_lists.first_condition_safe_run(),
        timeline=timeline,
        overrides=tx.overrides.for_run(run),
        alerts=tx.alerts.for_run(run),
        signals=tx.signals.for_run(run),
        compacted=tx.retention.summaries_for_run(run),
    )


def deadlines(record: RunRecord, policy: Policy) -> list[Deadline]:
    """The run's clock after it stopped, in the order they fall (docs/protocols.md, "The clock
    of a run")."""
    assessment = record.assessment
    stop = assessment.stop
    if stop is None:
        return [Deadline("run stop", None, "the run is still taking data (or OMS is silent)")]
    counted = [w for w in assessment.workflows if w.counted and w.ignored_by is None]
    harvesting = (WorkflowState.WAITING_EXPRESS, WorkflowState.HARVESTING)
    final = assessment.verdict.is_final
    final_note = f"run {assessment.verdict.value}" if final else None
    harvested = None if any(w.state in harvesting for w in counted) else "met"
    uploaded = "met" if all(w.satisfied for w in counted) else None
    locked = f"locked {when(assessment.locked_at)}" if assessment.locked_at else None
    released = f"released {when(assessment.released_at)}" if assessment.released_at else None
    return [
        Deadline(
            "harvest",
            stop + policy.harvest_timeout,
            "AlCa harvesting should be done",
            harvested or final_note,
        ),
        Deadline(
            "upload",
            stop + policy.upload_timeout,
            "payloads should be in the CondDB",
            uploaded or final_note,
        ),
        Deadline(
            "lock-in",
            assessment.lock_in_at or stop + policy.lock_in_delay(),
            "the Tier-0 freezes conditions for this run",
            locked or final_note,
        ),
        Deadline(
            "timer release",
            stop + policy.reco_delay,
            "PromptReco starts on the timer",
            released or final_note,
        ),
    ]
