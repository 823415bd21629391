"""Retention: old observations of finished runs are compacted into per-(run, source) summaries.

The engine folds observations last-writer-wins per fact key (``domain/knowledge.py``): of all
observations of one key only the one with the greatest order key counts; the others are
history. ``compact`` deletes that history for runs nobody will look at again, so the fold,
and hence every verdict, is the same after an engine reloads the store:

1. it picks up to ``batch`` runs (in run order, after the last batch) whose verdict is final
   (released or missed), whose newest observation was seen before ``older_than``, and that
   still hold more observations than fact keys (so a second pass finds nothing: idempotent);
2. per run it folds the observations (without their raw text) exactly as the engine does,
   in id order, and deletes every one that is not the winner of its key;
3. it adds what it deleted to the run's per-source summary: how many, first and last
   ``observed_at``;
4. it commits, and goes on with the next batch: many short transactions, never one long one,
   so a running engine waits at most one batch for the write lock (candidates are looked for
   in a read snapshot, outside it);
5. finally it deletes events of the change feed older than ``older_than``, ``event_batch`` rows
   per transaction.

It never deletes the newest row of ``observation`` or ``event``: SQLite hands out the id after
the highest one present, and readers (the live stream, incremental folds) resume from ids, so
an id must never come back.

Safe while the engine runs: the engine's memory holds the winner of every key, and a deleted
observation is beaten by another one already stored, so it can never become a winner again;
new observations only add winners. A stream client resuming from an id older than the oldest
kept event simply receives everything that is kept.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import (
    Connection,
    and_,
    case,
    delete,
    distinct,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from spyagency.domain.facts import fact_from_dict
from spyagency.domain.knowledge import FactTable
from spyagency.domain.observation import Observation
from spyagency.domain.states import Source, Verdict
from spyagency.store.batches import chunked
from spyagency.store.columns import UtcDateTime
from spyagency.store.schema import event, observation, observation_summary, run_state
from spyagency.store.upsert import insert_or_ignore

if TYPE_CHECKING:  # the unit of work imports this module for its repository
    from spyagency.store.uow import Store

DEFAULT_BATCH = 50
DEFAULT_EVENT_BATCH = 5000
FINAL_VERDICTS = tuple(v.value for v in Verdict if v.is_final)


@dataclass(frozen=True)
class ObservationSummary:
    """What compaction removed of one run's observations from one source."""

    run: int
    source: Source
    dropped: int
    first_observed_at: datetime
    last_observed_at: datetime
    compacted_at: datetime


@dataclass
class CompactionReport:
    runs: list[int] = field(default_factory=list)
    observations_deleted: int = 0
    events_deleted: int = 0
    transactions: int = 0


@dataclass(frozen=True)
class _Dropped:
    """Observations deleted in one pass, of one run and one source."""

    count: int
    first: datetime
    last: datetime


def retention_cutoff(now: datetime, max_age_days: float) -> datetime | None:
    """The ``older_than`` for a retention of ``max_age_days``; None when 0 (keep forever)."""
    if max_age_days <= 0:
        return None
    return now - timedelta(days=max_age_days)


class RetentionRepository:
    """The summaries of compacted observations, and the steps of one compaction batch."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    # -- reading ---------------------------------------------------------------------------

    def summaries_for_run(self, run: int) -> list[ObservationSummary]:
        """What was compacted away of ``run``, one entry per source, by source name."""
        query = (
            select(observation_summary)
            .where(observation_summary.c.run == run)
            .order_by(observation_summary.c.source)
        )
        return [
            ObservationSummary(
                run=int(row["run"]),
                source=Source(row["source"]),
                dropped=int(row["dropped"]),
                first_observed_at=row["first_observed_at"],
                last_observed_at=row["last_observed_at"],
                compacted_at=row["compacted_at"],
            )
            for row in self._connection.execute(query).mappings()
        ]

    def dropped_total(self) -> int:
        total = self._connection.execute(
            select(func.coalesce(func.sum(observation_summary.c.dropped), 0))
        ).scalar_one()
        return int(total)

    # -- one batch -------------------------------------------------------------------------

    def candidate_runs(self, older_than: datetime, after_run: int | None, limit: int) -> list[int]:
        """Up to ``limit`` runs (above ``after_run``, in order) that compaction would shrink."""
        newest = func.max(observation.c.observed_at)
        query = (
            select(observation.c.run)
            .join(run_state, run_state.c.run == observation.c.run)
            .where(run_state.c.verdict.in_(FINAL_VERDICTS))
            .group_by(observation.c.run)
            .having(
                and_(
                    newest < literal(older_than, UtcDateTime()),
                    func.count() > func.count(distinct(observation.c.fact_key)),
                )
            )
            .order_by(observation.c.run)
            .limit(limit)
        )
        if after_run is not None:
            query = query.where(observation.c.run > after_run)
        return [int(run) for run in self._connection.execute(query).scalars()]

    def compact_run(self, run: int, now: datetime) -> int:
        """Delete the observations of ``run`` that the fold ignores; return how many."""
        newest_id = _newest_id(self._connection, observation.c.id)
        superseded = [i for i in self._superseded(run) if i != newest_id]
        dropped: dict[Source, list[tuple[int, datetime]]] = defaultdict(list)
        for chunk in chunked(superseded):
            statement = (
                delete(observation)
                .where(observation.c.id.in_(chunk))
                .returning(observation.c.id, observation.c.source, observation.c.observed_at)
            )
            for row in self._connection.execute(statement):
                dropped[Source(row.source)].append((int(row.id), row.observed_at))
        for source, rows in sorted(dropped.items()):
            times = [at for _, at in rows]
            self.add_to_summary(run, source, len(rows), (min(times), max(times)), now)
        return sum(len(rows) for rows in dropped.values())

    def delete_events_before(self, older_than: datetime, limit: int) -> int:
        """Delete up to ``limit`` of the oldest events seen before ``older_than``."""
        newest_id = _newest_id(self._connection, event.c.id)
        oldest = (
            select(event.c.id)
            .where(event.c.at < literal(older_than, UtcDateTime()), event.c.id != newest_id)
            .order_by(event.c.id)
            .limit(limit)
        )
        ids = [int(i) for i in self._connection.execute(oldest).scalars()]
        deleted = 0
        for chunk in chunked(ids):
            statement = delete(event).where(event.c.id.in_(chunk)).returning(event.c.id)
            deleted += len(self._connection.execute(statement).all())
        return deleted

    def _superseded(self, run: int) -> list[int]:
        """Ids of the observations of ``run`` that lose the fold to another of their key."""
        query = (
            select(
                observation.c.id,
                observation.c.source,
                observation.c.observed_at,
                observation.c.fact_time,
                observation.c.fact,
            )
            .where(observation.c.run == run)
            .order_by(observation.c.id)
        )
        seen = [
            Observation(
                source=Source(row["source"]),
                observed_at=row["observed_at"],
                fact=fact_from_dict(row["fact"]),
                fact_time=row["fact_time"],
                id=int(row["id"]),
            )
            for row in self._connection.execute(query).mappings()
        ]
        return superseded_ids(seen)

    def add_to_summary(
        self,
        run: int,
        source: Source,
        count: int,
        span: tuple[datetime, datetime],
        now: datetime,
    ) -> None:
        """Record that ``count`` observations of ``run`` from ``source``, first and last seen
        at ``span``, were deleted at ``now``: added to what earlier compactions recorded."""
        dropped = _Dropped(count, *span)
        values = {
            "run": run,
            "source": source.value,
            "dropped": dropped.count,
            "first_observed_at": dropped.first,
            "last_observed_at": dropped.last,
            "compacted_at": now,
        }
        table = observation_summary
        if insert_or_ignore(self._connection, table, values, ["run", "source"]):
            return
        # Arithmetic in SQL: two compactions racing on PostgreSQL both add their share.
        first = literal(dropped.first, UtcDateTime())
        last = literal(dropped.last, UtcDateTime())
        statement = (
            update(table)
            .where(table.c.run == run, table.c.source == source.value)
            .values(
                dropped=table.c.dropped + dropped.count,
                first_observed_at=case(
                    (table.c.first_observed_at > first, first), else_=table.c.first_observed_at
                ),
                last_observed_at=case(
                    (table.c.last_observed_at < last, last), else_=table.c.last_observed_at
                ),
                compacted_at=now,
            )
        )
        self._connection.execute(statement)


def superseded_ids(observations: Iterable[Observation]) -> list[int]:
    """Ids of ``observations`` (in id order) that the engine's fold would not keep.

    The fold is the domain's own ``FactTable``, fed in id order as the engine feeds it when it
    loads the store, so even a tie on the order key keeps the same observation.
    """
    ordered: Sequence[Observation] = list(observations)
    table = FactTable()
    for item in ordered:
        table.add(item)
    kept = {item.id for item in table.latest.values()}
    return [item.id for item in ordered if item.id is not None and item.id not in kept]


def _newest_id(connection: Connection, column: ColumnElement[int]) -> int:
    newest = connection.execute(select(func.max(column))).scalar_one()
    return int(newest) if newest is not None else 0


def compact(
    store: Store,
    *,
    older_than: datetime,
    batch: int = DEFAULT_BATCH,
    event_batch: int = DEFAULT_EVENT_BATCH,
    now: datetime | None = None,
) -> CompactionReport:
    """Compact finished runs last observed before ``older_than`` and delete older events.

    ``batch`` runs per transaction, ``event_batch`` events per transaction. Safe to call
    while the engine runs, and as often as wanted: a second call right after finds nothing.
    """
    if batch < 1 or event_batch < 1:
        raise ValueError("batch sizes must be at least 1")
    stamp = now or datetime.now(UTC)
    report = CompactionReport()
    after_run: int | None = None
    while True:
        # Candidates are found in a read snapshot (a scan of the log), so the write lock is
        # held only while deleting. A run found here stays final, and deleting what another
        # stored observation supersedes is right whatever arrived since.
        with store.read() as tx:
            runs = tx.retention.candidate_runs(older_than, after_run, batch)
        if runs:
            with store.transaction() as tx:
                for run in runs:
                    report.observations_deleted += tx.retention.compact_run(run, stamp)
            report.transactions += 1
            report.runs.extend(runs)
        if len(runs) < batch:
            break
        after_run = runs[-1]
    while True:
        with store.transaction() as tx:
            deleted = tx.retention.delete_events_before(older_than, event_batch)
        report.transactions += 1
        report.events_deleted += deleted
        if deleted < event_batch:
            return report
