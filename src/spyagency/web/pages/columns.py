"""Which workflow columns the dashboard shows.

A column that no shown run expects is noise; on the wall screen, where space is scarcest, a
column in which every shown run is already proven (or not expected) is hidden too, so what
needs attention stays readable from across the room.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from spyagency.domain.states import WorkflowState
from spyagency.web.pages.dashboard_model import DashboardRun

QUIET_STATES = frozenset(
    {WorkflowState.NOT_EXPECTED, WorkflowState.IN_DB, WorkflowState.NO_PAYLOAD}
)


@dataclass(frozen=True)
class Columns:
    names: tuple[str, ...]
    # Shown only on the wall screen: how many expected but settled columns were left out.
    quiet_hidden: int = 0


def visible_columns(
    catalogue: Sequence[str], runs: Sequence[DashboardRun], wall: bool = False
) -> Columns:
    """Catalogue order first, then workflows a run reported that the catalogue lacks."""
    extra = sorted({name for run in runs for name in run.cells} - set(catalogue))
    expected = [name for name in (*catalogue, *extra) if any(_expected(run, name) for run in runs)]
    if not wall:
        return Columns(tuple(expected))
    loud = [name for name in expected if any(_needs_eyes(run, name) for run in runs)]
    return Columns(tuple(loud), len(expected) - len(loud))


def _expected(run: DashboardRun, name: str) -> bool:
    cell = run.cells.get(name)
    return cell is not None and cell.state is not WorkflowState.NOT_EXPECTED


def _needs_eyes(run: DashboardRun, name: str) -> bool:
    cell = run.cells.get(name)
    return cell is not None and cell.state not in QUIET_STATES and run.open
