"""What lists of runs show beside each run's summary: the state of every workflow in a row,
the first condition-safe run, and the fingerprint that says when any of it may have moved.

Everything is read in a fixed number of queries whatever the number of runs (no query per row
or cell). A workflow's cell needs only its state columns: decoding every stored assessment and
its evidence (what ``list_runs`` does) costs most of the time of a 500-run page and shows
nothing more on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from spyagency.domain.states import WorkflowState
from spyagency.store.batches import chunked
from spyagency.store.events import EventRepository
from spyagency.store.run_states import FINAL_VERDICTS
from spyagency.store.schema import run_state, workflow_state


@dataclass(frozen=True)
class WorkflowSummary:
    """One workflow of one run without its evidence: what a cell of a run list shows."""

    state: WorkflowState
    since: datetime
    counted: bool
    optional: bool
    ignored_by: str | None


@dataclass(frozen=True)
class RunListFingerprint:
    """Equal fingerprints mean no run list changed in between, except by changes that
    append no event (see ``RunListRepository.fingerprint``)."""

    latest_event_id: int
    run_count: int


class RunListRepository:
    def __init__(self, connection: Connection, events: EventRepository) -> None:
        self._connection = connection
        self._events = events

    def workflow_summaries(self, runs: Iterable[int]) -> dict[int, dict[str, WorkflowSummary]]:
        """Per run, per workflow name, the workflow's state; runs without workflows left out."""
        c = workflow_state.c
        found: dict[int, dict[str, WorkflowSummary]] = {}
        for chunk in chunked(runs):
            query = select(
                c.run, c.workflow, c.state, c.state_since, c.counted, c.optional, c.ignored_by
            ).where(c.run.in_(chunk))
            for row in self._connection.execute(query):
                found.setdefault(int(row.run), {})[row.workflow] = WorkflowSummary(
                    state=WorkflowState(row.state),
                    since=row.state_since,
                    counted=bool(row.counted),
                    optional=bool(row.optional),
                    ignored_by=row.ignored_by,
                )
        return found

    def first_condition_safe_run(self) -> int | None:
        """The lowest run not yet locked in and not final: PCL uploads for runs below it are
        too late (docs/protocols.md, "The clock of a run")."""
        query = select(func.min(run_state.c.run)).where(
            run_state.c.locked_at.is_(None), run_state.c.verdict.not_in(FINAL_VERDICTS)
        )
        found = self._connection.execute(query).scalar_one_or_none()
        return int(found) if found is not None else None

    def fingerprint(self) -> RunListFingerprint:
        """Moves when what a run list shows changes: every verdict, workflow-state and override
        change appends an event, and a new run changes the count. Both are index lookups (a
        scan for the newest ``updated_at`` would read every stored assessment). Changes that
        append no event (evidence wording, a corrected stop time) do not move it."""
        count = self._connection.execute(select(func.count()).select_from(run_state)).scalar_one()
        return RunListFingerprint(self._events.latest_id(), int(count))
