"""How each source's polls went, hour by hour: the history behind the sources page's health
plot (``source_health`` keeps only the latest word per source).

A recorded health is one poll: a success when its last success is its last attempt, a
failure when its last error is. Rows older than ``KEEP`` are deleted as new ones are counted,
so the table holds at most ``KEEP`` hours for each source.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select

from spyagency.domain.clock import utc
from spyagency.domain.health import SourceHealth
from spyagency.domain.states import Source
from spyagency.store.schema import source_poll_hour
from spyagency.store.upsert import upsert_adding

KEEP = timedelta(days=14)


@dataclass(frozen=True)
class PollHour:
    source: Source
    hour: datetime  # the start of the hour, UTC
    successes: int
    failures: int


def hour_of(moment: datetime) -> datetime:
    return utc(moment).replace(minute=0, second=0, microsecond=0)


class PollHistoryRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def count(self, healths: Iterable[SourceHealth]) -> None:
        """Count each health's poll in the hour of its attempt; forget hours past ``KEEP``."""
        successes: Counter[tuple[str, datetime]] = Counter()
        failures: Counter[tuple[str, datetime]] = Counter()
        for health in healths:
            attempt = health.last_attempt
            if attempt is None:
                continue
            key = (health.source.value, hour_of(attempt))
            if health.last_success == attempt:
                successes[key] += 1
            elif health.last_error_at == attempt:
                failures[key] += 1
        keys = sorted(set(successes) | set(failures))
        if not keys:
            return
        rows = [
            {"source": s, "hour": h, "successes": successes[(s, h)], "failures": failures[(s, h)]}
            for s, h in keys
        ]
        upsert_adding(self._connection, source_poll_hour, rows, ["source", "hour"])
        c = source_poll_hour.c
        newest = max(hour for _, hour in keys)
        # By source, so the primary key's order serves the delete.
        self._connection.execute(
            delete(source_poll_hour).where(
                c.source.in_(sorted({source for source, _ in keys})), c.hour < newest - KEEP
            )
        )

    def since(self, start: datetime) -> list[PollHour]:
        """Every counted hour from ``hour_of(start)`` on, by source then hour."""
        c = source_poll_hour.c
        query = select(source_poll_hour).where(c.hour >= hour_of(start)).order_by(c.source, c.hour)
        found = []
        for row in self._connection.execute(query).mappings():
            try:
                source = Source(row["source"])
            except ValueError:
                continue  # a source this version no longer knows
            found.append(PollHour(source, row["hour"], int(row["successes"]), int(row["failures"])))
        return found
