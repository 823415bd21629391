"""The append-only log of everything the spies saw, with the raw evidence."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Select,
    func,
    insert,
    or_,
    select,
    true,
)

from spyagency.domain.facts import FactKey, fact_from_dict, fact_to_dict
from spyagency.domain.observation import Observation
from spyagency.domain.states import Source
from spyagency.store.batches import chunked
from spyagency.store.columns import storable_text
from spyagency.store.run_states import FINAL_VERDICTS
from spyagency.store.schema import observation, run_state


def encode_fact_key(key: FactKey) -> str:
    """A compact, stable text form of a fact key, so equal keys compare equal in SQL."""
    return json.dumps(list(key), separators=(",", ":"), ensure_ascii=False)


class ObservationRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add_many(self, observations: Sequence[Observation]) -> list[int]:
        """Append ``observations``; returns their ids in the same order.

        One statement for the whole batch: SQLAlchemy's "insertmanyvalues" sends multi-row
        INSERT ... RETURNING and maps the ids back to the input order on both backends.
        """
        if not observations:
            return []
        rows = [_to_row(item) for item in observations]
        statement = insert(observation).returning(observation.c.id, sort_by_parameter_order=True)
        return [int(row.id) for row in self._connection.execute(statement, rows)]

    def append_many(self, observations: Sequence[Observation]) -> None:
        """Append ``observations`` without asking their ids back: a plain executemany, about
        twice as fast as ``add_many``'s INSERT ... RETURNING (the engine needs no ids)."""
        if observations:
            rows = [_to_row(item) for item in observations]
            self._connection.execute(insert(observation), rows)

    def add(self, item: Observation) -> int:
        return self.add_many([item])[0]

    def iter_all(self, batch: int = 5000) -> Iterator[Observation]:
        """Every observation in id order, read ``batch`` rows at a time (keyset, not OFFSET)."""
        return self._pages(true(), batch)

    def iter_unfinished(self, batch: int = 5000) -> Iterator[Observation]:
        """Like ``iter_all``, without the observations of runs whose verdict is final
        (released or missed): what an engine keeps in memory at start-up. Final runs' facts
        stay in the store and are read again only if such a run hears news."""
        final_run = (
            select(run_state.c.run)
            .where(run_state.c.run == observation.c.run, run_state.c.verdict.in_(FINAL_VERDICTS))
            .exists()
        )
        return self._pages(or_(observation.c.run.is_(None), ~final_run), batch)

    def _pages(self, condition: ColumnElement[bool], batch: int) -> Iterator[Observation]:
        """Observations meeting ``condition`` in id order, ``batch`` rows per query."""
        after = 0
        while True:
            query = (
                select(observation)
                .where(observation.c.id > after, condition)
                .order_by(observation.c.id)
                .limit(batch)
            )
            page = self._read(query)
            yield from page
            if len(page) < batch:
                return
            after = page[-1].id or after

    def highest_run(self) -> int | None:
        found = self._connection.execute(select(func.max(observation.c.run))).scalar()
        return int(found) if found is not None else None

    def after(self, observation_id: int, limit: int) -> list[Observation]:
        """Up to ``limit`` observations with an id above ``observation_id``, in id order:
        lets a reader fold only what arrived since it last looked."""
        query = (
            select(observation)
            .where(observation.c.id > observation_id)
            .order_by(observation.c.id)
            .limit(limit)
        )
        return self._read(query)

    def for_runs(self, runs: Iterable[int]) -> list[Observation]:
        """Observations about any of ``runs``, in id order."""
        found: list[Observation] = []
        for chunk in chunked(runs):
            found.extend(self._read(select(observation).where(observation.c.run.in_(chunk))))
        found.sort(key=lambda item: item.id or 0)
        return found

    def system_facts(self) -> list[Observation]:
        """Observations about the system as a whole (no run), in id order."""
        query = select(observation).where(observation.c.run.is_(None)).order_by(observation.c.id)
        return self._read(query)

    def timeline(self, run: int) -> list[Observation]:
        """What was seen about ``run``, in the order it was seen."""
        query = (
            select(observation)
            .where(observation.c.run == run)
            .order_by(observation.c.observed_at, observation.c.id)
        )
        return self._read(query)

    def latest_for_key(self, key: FactKey) -> Observation | None:
        """The newest observation of one fact key, e.g. to skip storing an unchanged fact."""
        query = (
            select(observation)
            .where(observation.c.fact_key == encode_fact_key(key))
            .order_by(observation.c.id.desc())
            .limit(1)
        )
        found = self._read(query)
        return found[0] if found else None

    def count(self) -> int:
        return int(
            self._connection.execute(select(func.count()).select_from(observation)).scalar_one()
        )

    def latest_id(self) -> int:
        """The highest id stored, 0 when empty."""
        latest = self._connection.execute(select(func.max(observation.c.id))).scalar_one()
        return int(latest) if latest is not None else 0

    def _read(self, query: Select[Any]) -> list[Observation]:
        return [_from_row(row) for row in self._connection.execute(query).mappings()]


def _to_row(item: Observation) -> dict[str, Any]:
    return {
        "source": item.source.value,
        "kind": item.fact.kind,
        "run": item.run,
        "fact_key": encode_fact_key(item.key),
        "observed_at": item.observed_at,
        "fact_time": item.fact_time,
        "fact": fact_to_dict(item.fact),
        "raw": storable_text(item.raw),
    }


def _from_row(row: RowMapping) -> Observation:
    return Observation(
        source=Source(row["source"]),
        observed_at=row["observed_at"],
        fact=fact_from_dict(row["fact"]),
        raw=row["raw"],
        fact_time=row["fact_time"],
        id=int(row["id"]),
    )
