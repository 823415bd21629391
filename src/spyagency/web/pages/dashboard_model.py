"""The dashboard's read model: the newest runs with the state of every workflow, in a fixed
number of queries whatever the number of runs (no query per row or cell).

Rows are the store's run summaries (``list_summaries``, the query behind the API's run list)
plus the workflow summaries a cell shows (``RunListRepository``) and the run's labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spyagency.domain.queue import Queue, queue_of
from spyagency.domain.states import Verdict
from spyagency.store.run_labels import RunLabels
from spyagency.store.run_lists import WorkflowSummary
from spyagency.store.run_records import RunSummary
from spyagency.store.uow import Transaction

# A cell of the run table shows one workflow's summary.
Cell = WorkflowSummary
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
        among = tx.labels.runs_labelled(filters.run_class, filters.era, scan)
    summaries = tx.states.list_summaries(filters.verdict, limit=filters.limit, among=among)
    runs = _assemble(tx, summaries)
    if filters.run_class or filters.era:
        runs = [r for r in runs if _matches(r.labels, filters)]
    queue = queue_of(tx.states.queued_runs())
    fcsr = tx.run_lists.first_condition_safe_run()
    return DashboardData(runs, tx.states.counts_by_verdict(), fcsr, queue)


def read_dashboard_run(tx: Transaction, run: int) -> DashboardRun | None:
    found = _assemble(tx, tx.states.list_summaries(run_min=run, run_max=run, limit=1))
    return found[0] if found else None


def _assemble(tx: Transaction, summaries: list[RunSummary]) -> list[DashboardRun]:
    numbers = [summary.run for summary in summaries]
    cells = tx.run_lists.workflow_summaries(numbers)
    labels = tx.labels.of_runs(numbers)
    return [
        DashboardRun(summary, cells.get(summary.run, {}), labels.get(summary.run, RunLabels()))
        for summary in summaries
    ]


def _matches(labels: RunLabels, filters: DashboardFilters) -> bool:
    if filters.run_class and labels.run_class != filters.run_class:
        return False
    return not (filters.era and labels.era != filters.era)
