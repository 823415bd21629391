"""The dashboard's read model: the newest runs with the state of every workflow, in a fixed
number of queries whatever the number of runs (no query per row or cell).

It reads the derived-state tables directly and only the columns a row shows: decoding every
stored assessment and its evidence (what ``list_runs`` does for the API) costs most of the
time of a 500-run page and shows nothing more on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, func, select

from spyagency.domain.states import Verdict, WorkflowState
from spyagency.store.batches import chunked
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
    run: int
    verdict: Verdict
    automatic_verdict: Verdict
    reasons: tuple[str, ...]
    verdict_since: datetime
    stop: datetime | None
    lock_in_at: datetime | None
    locked_at: datetime | None
    stale_sources: tuple[str, ...]
    cells: dict[str, Cell] = field(default_factory=dict)
    labels: RunLabels = field(default_factory=RunLabels)

    @property
    def open(self) -> bool:
        """The Tier-0 has not locked it yet: its calibrations can still make it."""
        return self.locked_at is None and not self.verdict.is_final

    @property
    def overridden(self) -> bool:
        return self.verdict is not self.automatic_verdict


@dataclass(frozen=True)
class DashboardData:
    runs: list[DashboardRun]
    counts: dict[Verdict, int]
    fcsr: int | None


def read_dashboard(tx: Transaction, filters: DashboardFilters) -> DashboardData:
    connection = tx.connection
    query = _run_query().order_by(run_state.c.run.desc()).limit(filters.limit)
    if filters.verdict is not None:
        query = query.where(run_state.c.verdict == filters.verdict.value)
    if filters.run_class or filters.era:
        scan = filters.limit * LABEL_SCAN_FACTOR
        candidates = runs_labelled(connection, filters.run_class, filters.era, scan)
        query = query.where(run_state.c.run.in_(candidates))
    runs = _assemble(connection, query)
    if filters.run_class or filters.era:
        runs = [r for r in runs if _matches(r.labels, filters)]
    return DashboardData(runs, tx.states.counts_by_verdict(), first_condition_safe_run(tx))


def read_dashboard_run(tx: Transaction, run: int) -> DashboardRun | None:
    found = _assemble(tx.connection, _run_query().where(run_state.c.run == run))
    return found[0] if found else None


def first_condition_safe_run(tx: Transaction) -> int | None:
    """The lowest run not yet locked in and not final: PCL uploads for runs below it are too
    late (DOMAIN.md section 4)."""
    query = select(func.min(run_state.c.run)).where(
        run_state.c.locked_at.is_(None), run_state.c.verdict.not_in(FINAL)
    )
    found = tx.connection.execute(query).scalar_one_or_none()
    return int(found) if found is not None else None


def _run_query() -> Select[Any]:
    c = run_state.c
    return select(
        c.run,
        c.verdict,
        c.automatic_verdict,
        c.reasons,
        c.verdict_since,
        c.stop,
        c.lock_in_at,
        c.locked_at,
        c.stale_sources,
    )


def _assemble(connection: Connection, query: Select[Any]) -> list[DashboardRun]:
    rows = list(connection.execute(query).mappings())
    numbers = [int(row["run"]) for row in rows]
    cells = _cells_of(connection, numbers)
    labels = labels_of(connection, numbers)
    return [
        DashboardRun(
            run=int(row["run"]),
            verdict=Verdict(row["verdict"]),
            automatic_verdict=Verdict(row["automatic_verdict"]),
            reasons=tuple(str(reason) for reason in row["reasons"] or ()),
            verdict_since=row["verdict_since"],
            stop=row["stop"],
            lock_in_at=row["lock_in_at"],
            locked_at=row["locked_at"],
            stale_sources=tuple(str(s) for s in row["stale_sources"] or ()),
            cells=cells.get(int(row["run"]), {}),
            labels=labels.get(int(row["run"]), RunLabels()),
        )
        for row in rows
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
