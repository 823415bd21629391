"""The workflow cells of one dashboard row, built in Python rather than in the template.

A 200-run dashboard has about 4,000 cells; through Jinja each costs several calls (rendering
took ~90 ms), as one formatted string each they cost a few microseconds. Cells are kept small
(the column header names the workflow; "since" only where time in a state matters), as bytes
are what a page of 4,000 cells costs to send and to parse. Every piece of text that is not a
constant passes through ``escape``.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from spyagency.domain.states import FAILURE_STATES, IN_PROGRESS_STATES, WorkflowState
from spyagency.web.pages.dashboard_model import Cell, DashboardRun
from spyagency.web.pages.formatting import when
from spyagency.web.pages.presentation import state_look

ABSENT = '<td class="st-absent"></td>'
# States in which how long it has lasted is the point (stuck, or waiting on an expert).
TIMED_STATES = IN_PROGRESS_STATES | FAILURE_STATES | {WorkflowState.UNKNOWN}


def cells_html(run: DashboardRun, columns: Sequence[str]) -> Markup:
    parts = [_cell(run.cells.get(name)) for name in columns]
    # Safe by construction: constants, and dynamic text only through escape() in _cell.
    return Markup("".join(parts))  # noqa: S704


def _cell(cell: Cell | None) -> str:
    if cell is None:
        return ABSENT
    look = state_look(cell.state)
    classes = look.css
    # The public word, not the phrase: 4,000 cells, and the legend explains the words.
    title = cell.state.value
    if cell.state in TIMED_STATES:
        title += f" since {when(cell.since)}"
    if cell.optional:
        classes += " optional"
        title += " (optional)"
    if cell.ignored_by:
        classes += " ignored"
        title += f" (ignored: {cell.ignored_by})"
    return f'<td class="{classes}" title="{escape(title)}">{escape(look.short)}</td>'
