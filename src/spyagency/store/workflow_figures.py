"""How one calibration fared run after run beyond its state: when each run stopped, when the
workflow's first payload reached the harvest area, and the workflow's own DQM figures.

Each is one statement per chunk of runs, never one per run. The harvest and DQM figures are
JSON fields of the observation log, extracted by the database (``JSON_EXTRACT`` on SQLite,
``->>`` on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from spyagency.domain.facts import DqmQuality, HarvestFile
from spyagency.store.batches import chunked
from spyagency.store.schema import observation, run_state


@dataclass(frozen=True)
class DqmFigures:
    status: str
    failed_tests: int
    vetoed: bool | None
    db_updated: bool | None


class WorkflowFigureRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def stops(self, runs: Iterable[int]) -> dict[int, datetime | None]:
        """Per run with a stored state, when it stopped (None: still running, or unknown)."""
        found: dict[int, datetime | None] = {}
        for chunk in chunked(runs):
            query = select(run_state.c.run, run_state.c.stop).where(run_state.c.run.in_(chunk))
            found.update({int(run): stop for run, stop in self._connection.execute(query)})
        return found

    def first_harvests(self, runs: Iterable[int], input_tag: str) -> dict[int, datetime]:
        """Per run, when the first payload of ``input_tag`` appeared in the harvest area."""
        tag = observation.c.fact["input_tag"].as_string()
        created = observation.c.fact["created"].as_string()
        found: dict[int, datetime] = {}
        for chunk in chunked(runs):
            query = (
                select(observation.c.run, created)
                .where(observation.c.kind == HarvestFile.kind, observation.c.run.in_(chunk))
                .where(tag == input_tag)
            )
            for run, text in self._connection.execute(query):
                if not text:
                    continue
                moment = datetime.fromisoformat(text)
                current = found.get(int(run))
                found[int(run)] = moment if current is None else min(current, moment)
        return found

    def dqm_figures(self, runs: Iterable[int], workflow: str) -> dict[int, DqmFigures]:
        """Per run, the latest DQM quality figures published for ``workflow``."""
        found: dict[int, DqmFigures] = {}
        for chunk in chunked(runs):
            query = (
                select(observation.c.run, observation.c.fact)
                .where(observation.c.kind == DqmQuality.kind, observation.c.run.in_(chunk))
                .where(observation.c.fact["workflow"].as_string() == workflow)
                .order_by(observation.c.id)
            )
            for run, fact in self._connection.execute(query):
                # Later observations of the same run replace earlier ones, as in the fold.
                found[int(run)] = DqmFigures(
                    status=str(fact.get("status", "")),
                    failed_tests=len(fact.get("failed_tests") or ()),
                    vetoed=fact.get("vetoed"),
                    db_updated=fact.get("db_updated"),
                )
        return found
