"""The dashboard's read model: the newest runs with the state of every workflow, in a fixed
number of queries whatever the number of runs (no query per row or cell).

Rows are the store's run summaries (``list_summaries``, the query behind the API's run list)
plus only the workflow columns a cell shows: decoding every stored assessment and its
evidence (what ``list_runs`` does) costs most of the time of a 500-run page and shows
nothing more on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, func, select

from spyagency.domain.queue import Queue, queue_of
from spyagency.domain.states import Verdict, WorkflowState
from spyagency.store.batches import chunked
from spyagency.store.run_records import RunSummary
from spyagency.store.schema import run_state, workflow_state
from spyagency.store.uow import Transaction
from spyagency.web.pages.run_labels import RunLabels, labels_of, runs_labelled

FINAL = (Verdict.RELEASED.value, Verdict.MISSED.value)
# How many runs carrying a class/era label to look at when filtering on one.
LABEL_SCAN_FACTOR = 4


@dataclass(frozen=True)
class DashboardFilters:
    verdict: Verdict | None = None
    run_class: str | None = None
    era: str | None = None
    limit: int = 100

    def key(self) -> tuple[str, str, str, int]:
        verdict = self.verdict.value if self.verdict else ""
        return (verdict, self.run_class or "", self.era or "", self.limit)


@dataclass(frozen=True)
class Cell:
    state: WorkflowState
    since: datetime
    counted: bool
    optional: bool
    ignored_by: str | None


@dataclass(frozen=True)
class DashboardRun:
    """One row: the run's verdict line (the store's summary, as the API lists it), the state
    of each of its workflows, and its labels."""

    summary: RunSummary
    cells: dict[str, Cell] = field(default_factory=dict)
    labels: RunLabels = field(default_factory=RunLabels)

    @property
    def run(self) -> int:
        return self.summary.run

    @property
    def open(self) -> bool:
        """The Tier-0 has not locked it yet: its calibrations can still make it."""
        return self.summary.locked_at is None and not self.summary.verdict.is_final


@dataclass(frozen=True)
class DashboardData:
    runs: list[DashboardRun]
    counts: dict[Verdict, int]
    fcsr: int | None
    queue: Queue = field(default_factory=lambda: Queue(None))


def read_dashboard(tx: Transaction, filters: DashboardFilters) -> DashboardData:
    among = None
    if filters.run_class or filters.era:
        scan = filters.limit * LABEL_SCAN_FACTOR
        among = runs_labelled(tx.connection, filters.run_class, filters.era, scan)
    summaries = tx.states.list_summaries(filters.verdict, limit=filters.limit, among=among)
    runs = _assemble(tx.connection, summaries)
    if filters.run_class or filters.era:
        runs = [r for r in runs if _matches(r.labels, filters)]
    queue = queue_of(tx.states.queued_runs())
    return DashboardData(runs, tx.states.counts_by_verdict(), first_condition_safe_run(tx), queue)


def read_dashboard_run(tx: Transaction, run: int) -> DashboardRun | None:
    found = _assemble(tx.connection, tx.states.list_summaries(run_min=run, run_max=run, limit=1))
    return found[0] if found else None


def first_condition_safe_run(tx: Transaction) -> int | None:
    """The lowest run not yet locked in and not final: PCL uploads for runs below it are too
    late (docs/protocols.md, "The clock of a run")."""
    query = select(func.min(run_state.c.run)).where(
        run_state.c.locked_at.is_(None), run_state.c.verdict.not_in(FINAL)
    )
    found = tx.connection.execute(query).scalar_one_or_none()
    return int(found) if found is not None else None


def _assemble(connection: Connection, summaries: list[RunSummary]) -> list[DashboardRun]:
    numbers = [summary.run for summary in summaries]
    cells = _cells_of(connection, numbers)
    labels = labels_of(connection, numbers)
    return [
        DashboardRun(summary, cells.get(summary.run, {}), labels.get(summary.run, RunLabels()))
        for summary in summaries
    ]


def _cells_of(connection: Connection, runs: Iterable[int]) -> dict[int, dict[str, Cell]]:
    c = workflow_state.c
    found: dict[int, dict[str, Cell]] = {}
    for chunk in chunked(runs):
        query = select(
            c.run, c.workflow, c.state, c.state_since, c.counted, c.optional, c.ignored_by
        ).where(c.run.in_(chunk))
        for run, workflow, state, since, counted, optional, ignored_by in connection.execute(query):
            found.setdefault(int(run), {})[workflow] = Cell(
                WorkflowState(state), since, bool(counted), bool(optional), ignored_by
            )
    return found


def _matches(labels: RunLabels, filters: DashboardFilters) -> bool:
    if filters.run_class and labels.run_class != filters.run_class:
        return False
    return not (filters.era and labels.era != filters.era)
