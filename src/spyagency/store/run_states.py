"""The run-state repository: saving assessments and reading them back, on one connection."""

from __future__ import annotations

from spyagency.store.run_state_queries import RunStateQueries
from spyagency.store.run_state_writer import ConcurrentUpdateError, RunStateWriter


class RunStateRepository(RunStateWriter, RunStateQueries):
    """``save_run`` from ``RunStateWriter``; ``get_run``, ``list_runs`` and the counts from
    ``RunStateQueries``."""


__all__ = ["ConcurrentUpdateError", "RunStateRepository"]
