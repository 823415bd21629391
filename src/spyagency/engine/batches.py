"""What goes into an evaluator batch and what comes out of it.

A batch (``Evaluator.stage`` then ``commit``, or ``ingest_many``) carries the reports' news,
the runs they touched and each source's health after its poll (``next_health``); it ends
with an ``EvaluationResult``: the state changes, the judgements, and how many signals and
alerts it queued.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from spyagency.domain.health import SourceHealth
from spyagency.domain.observation import Observation
from spyagency.domain.states import Source
from spyagency.domain.verdict import RunAssessment
from spyagency.spies.scope import SpyReport
from spyagency.store.run_records import StateChange


def next_health(previous: SourceHealth | None, report: SpyReport, now: datetime) -> SourceHealth:
    """The source's health after ``report``: an error about the source itself makes the poll
    a failure; an error about one item is evidence on its run (an ItemProblem), not this."""
    base = previous or SourceHealth(report.source)
    if report.ok:
        return SourceHealth(
            report.source,
            last_success=now,
            last_attempt=now,
            last_error=base.last_error,
            last_error_at=base.last_error_at,
            last_error_raw=base.last_error_raw,
            consecutive_failures=0,
        )
    errors = report.source_errors
    first = errors[0]
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return SourceHealth(
        report.source,
        last_success=base.last_success,
        last_attempt=now,
        last_error=f"{first.message}{more}",
        last_error_at=now,
        last_error_raw=first.raw,
        consecutive_failures=base.consecutive_failures + 1,
    )


@dataclass
class StagedReports:
    """Reports folded into memory and not stored yet (see ``Evaluator.stage``)."""

    news: list[Observation] = field(default_factory=list)
    touched: set[int] = field(default_factory=set)
    system_changed: bool = False
    health: dict[Source, SourceHealth] = field(default_factory=dict)


@dataclass
class EvaluationResult:
    changes: list[StateChange] = field(default_factory=list)
    assessments: list[RunAssessment] = field(default_factory=list)
    signals: int = 0
    alerts_opened: int = 0
    alerts_resolved: int = 0
    news: int = 0  # observations stored by this batch
