"""The last known health of each upstream source (shown on the sources page, feeds staleness)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from spyagency.domain.health import SourceHealth
from spyagency.domain.states import Source
from spyagency.store.columns import storable_text
from spyagency.store.poll_history import PollHistoryRepository
from spyagency.store.schema import source_health
from spyagency.store.upsert import upsert_many


class SourceHealthRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._history = PollHistoryRepository(connection)

    def record(self, health: SourceHealth) -> None:
        """Replace what is known about ``health.source``."""
        self.record_many([health])

    def record_many(self, healths: Iterable[SourceHealth]) -> None:
        """Replace what is known about each of these sources, in one statement, and count
        each as a poll in the sources' history (``poll_history``)."""
        healths = list(healths)
        rows = [
            {
                "source": health.source.value,
                "last_success": health.last_success,
                "last_attempt": health.last_attempt,
                "last_error": health.last_error,
                "last_error_at": health.last_error_at,
                "last_error_raw": _storable(health.last_error_raw),
                "consecutive_failures": health.consecutive_failures,
            }
            for health in healths
        ]
        upsert_many(self._connection, source_health, rows, conflict_columns=["source"])
        self._history.count(healths)

    def get(self, source: Source) -> SourceHealth | None:
        return self.all().get(source)

    def all(self) -> dict[Source, SourceHealth]:
        rows = self._connection.execute(select(source_health)).mappings()
        found: dict[Source, SourceHealth] = {}
        for row in rows:
            try:
                source = Source(row["source"])
            except ValueError:
                continue  # a source this version no longer knows: not ours to judge
            found[source] = SourceHealth(
                source=source,
                last_success=row["last_success"],
                last_attempt=row["last_attempt"],
                last_error=row["last_error"],
                last_error_at=row["last_error_at"],
                last_error_raw=row["last_error_raw"],
                consecutive_failures=int(row["consecutive_failures"]),
            )
        return found


def _storable(text: str | None) -> str | None:
    return storable_text(text) if text is not None else None
