"""The workflow page's read model: how one calibration fared run after run, with the latency
of each step after run stop and the calibration's own DQM figures, so a drift shows.

Queries are batched over the runs shown: the workflow's history, the runs' stop times, the
harvest files of its input tags and its DQM facts, each one statement per chunk of runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from spyagency.domain.catalogue import WorkflowSpec
from spyagency.domain.facts import DqmQuality, HarvestFile
from spyagency.domain.states import WorkflowState
from spyagency.store.batches import chunked
from spyagency.store.run_records import WorkflowRecord
from spyagency.store.schema import observation, run_state
from spyagency.store.uow import Transaction
from spyagency.web.pages.formatting import hours_after


@dataclass(frozen=True)
class DqmFigures:
    status: str
    failed_tests: int
    vetoed: bool | None
    db_updated: bool | None


@dataclass(frozen=True)
class WorkflowRun:
    record: WorkflowRecord
    stop: datetime | None
    harvested_at: datetime | None
    dqm: DqmFigures | None

    @property
    def run(self) -> int:
        return self.record.run

    @property
    def state(self) -> WorkflowState:
        return self.record.state

    @property
    def harvest_hours(self) -> float | None:
        return hours_after(self.harvested_at, self.stop)

    @property
    def proof_hours(self) -> float | None:
        return hours_after(self.record.proven_at, self.stop)


def read_workflow(tx: Transaction, spec: WorkflowSpec, limit: int) -> list[WorkflowRun]:
    records = tx.states.workflow_history(spec.name, limit=limit)
    runs = [record.run for record in records]
    connection = tx.connection
    stops = _stops(connection, runs)
    harvested = _first_harvest(connection, runs, spec.input_tags)
    dqm = _dqm(connection, runs, spec.name)
    return [
        WorkflowRun(record, stops.get(record.run), harvested.get(record.run), dqm.get(record.run))
        for record in records
    ]


def plot_series(rows: list[WorkflowRun]) -> dict[str, list[Any]]:
    """Columns for uPlot, oldest run first (its x axis must ascend)."""
    ordered = sorted(rows, key=lambda row: row.run)

    def flag(value: bool | None) -> int | None:
        return None if value is None else int(value)

    return {
        "runs": [row.run for row in ordered],
        "harvest_hours": [row.harvest_hours for row in ordered],
        "proof_hours": [row.proof_hours for row in ordered],
        "failed_tests": [row.dqm.failed_tests if row.dqm else None for row in ordered],
        "vetoed": [flag(row.dqm.vetoed) if row.dqm else None for row in ordered],
        "db_updated": [flag(row.dqm.db_updated) if row.dqm else None for row in ordered],
    }


def _stops(connection: Connection, runs: Iterable[int]) -> dict[int, datetime | None]:
    found: dict[int, datetime | None] = {}
    for chunk in chunked(runs):
        query = select(run_state.c.run, run_state.c.stop).where(run_state.c.run.in_(chunk))
        found.update({int(run): stop for run, stop in connection.execute(query)})
    return found


def _first_harvest(
    connection: Connection, runs: Iterable[int], input_tags: tuple[str, ...]
) -> dict[int, datetime]:
    """When the first payload of the workflow's main input tag appeared in the harvest area."""
    tag = observation.c.fact["input_tag"].as_string()
    created = observation.c.fact["created"].as_string()
    found: dict[int, datetime] = {}
    for chunk in chunked(runs):
        query = (
            select(observation.c.run, created)
            .where(observation.c.kind == HarvestFile.kind, observation.c.run.in_(chunk))
            .where(tag == input_tags[0])
        )
        for run, text in connection.execute(query):
            if not text:
                continue
            moment = datetime.fromisoformat(text)
            current = found.get(int(run))
            found[int(run)] = moment if current is None else min(current, moment)
    return found


def _dqm(connection: Connection, runs: Iterable[int], workflow: str) -> dict[int, DqmFigures]:
    found: dict[int, DqmFigures] = {}
    for chunk in chunked(runs):
        query = (
            select(observation.c.run, observation.c.fact)
            .where(observation.c.kind == DqmQuality.kind, observation.c.run.in_(chunk))
            .where(observation.c.fact["workflow"].as_string() == workflow)
            .order_by(observation.c.id)
        )
        for run, fact in connection.execute(query):
            # Later observations of the same run replace earlier ones, as in the fold.
            found[int(run)] = DqmFigures(
                status=str(fact.get("status", "")),
                failed_tests=len(fact.get("failed_tests") or ()),
                vetoed=fact.get("vetoed"),
                db_updated=fact.get("db_updated"),
            )
    return found
