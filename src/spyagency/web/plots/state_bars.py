"""A run's workflows as horizontal bars over time: one bar per stretch a workflow spent in one
state, from the stored changes of state.

1. Walk the run's workflow state changes oldest first. A change to a state closes the
   workflow's open bar at that moment and opens one in the new state; a change to nothing
   (the workflow no longer concerns the run) only closes it.
2. A workflow whose current state has no open bar (its changes were compacted away, or its
   bar disagrees with what is stored now) gets one from its ``state_since``.
3. Open bars end at ``end``: now for an open run, the moment it became final otherwise.
4. Bars in ``not_expected`` are left out: they say only that nothing is expected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from spyagency.domain.clock import utc
from spyagency.domain.states import WorkflowState

HIDDEN_STATES = frozenset({WorkflowState.NOT_EXPECTED.value})


@dataclass(frozen=True)
class StateChange:
    at: datetime
    workflow: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class CurrentState:
    workflow: str
    state: str
    since: datetime


@dataclass(frozen=True)
class StateBar:
    workflow: str
    state: str
    start: datetime
    end: datetime


@dataclass
class _Open:
    state: str
    start: datetime


def state_bars(
    changes: Iterable[StateChange], current: Iterable[CurrentState], end: datetime
) -> list[StateBar]:
    """Bars ordered by workflow (in the order first met: changes, then current states), then
    by start."""
    bars: list[StateBar] = []
    open_bars: dict[str, _Open] = {}
    order: dict[str, None] = {}

    def close(workflow: str, at: datetime) -> None:
        bar = open_bars.pop(workflow, None)
        if bar is not None:
            bars.append(StateBar(workflow, bar.state, bar.start, max(bar.start, at)))

    for change in sorted(changes, key=lambda item: utc(item.at)):
        order.setdefault(change.workflow)
        close(change.workflow, change.at)
        if change.new is not None:
            open_bars[change.workflow] = _Open(change.new, change.at)
    for state in current:
        order.setdefault(state.workflow)
        bar = open_bars.get(state.workflow)
        if bar is None or bar.state != state.state:
            start = state.since if bar is None else max(bar.start, state.since)
            close(state.workflow, start)
            open_bars[state.workflow] = _Open(state.state, start)
    for workflow in list(open_bars):
        close(workflow, end)
    rank = {workflow: index for index, workflow in enumerate(order)}
    shown = [bar for bar in bars if bar.state not in HIDDEN_STATES and bar.end > bar.start]
    return sorted(shown, key=lambda bar: (rank[bar.workflow], utc(bar.start)))
