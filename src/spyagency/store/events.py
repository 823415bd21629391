"""The append-only history of changes: timelines per run, and a live stream that a client
resumes from the last id it saw."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, RowMapping, func, insert, select

from spyagency.store.schema import event


class EventKind(StrEnum):
    VERDICT = "verdict"
    WORKFLOW_STATE = "workflow_state"
    OVERRIDE = "override"
    ALERT = "alert"
    SIGNAL = "signal"


@dataclass(frozen=True)
class Event:
    id: int
    at: datetime
    run: int | None
    workflow: str | None
    kind: str
    old: str | None
    new: str | None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewEvent:
    """An event not yet written (it has no id)."""

    at: datetime
    kind: str
    run: int | None = None
    workflow: str | None = None
    old: str | None = None
    new: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def values(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "kind": str(self.kind),
            "run": self.run,
            "workflow": self.workflow,
            "old": self.old,
            "new": self.new,
            "detail": self.detail,
        }


class EventRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.written = False  # whether this transaction appended events (to notify at commit)

    def append(
        self,
        at: datetime,
        kind: str,
        *,
        run: int | None = None,
        workflow: str | None = None,
        old: str | None = None,
        new: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> int:
        new_event = NewEvent(at, kind, run, workflow, old, new, detail or {})
        statement = insert(event).values(new_event.values()).returning(event.c.id)
        self.written = True
        return int(self._connection.execute(statement).scalar_one())

    def append_many(self, events: list[NewEvent]) -> None:
        """Write several events in one round trip, in list order (ids ascend likewise)."""
        if events:
            self._connection.execute(insert(event), [item.values() for item in events])
            self.written = True

    def since(self, event_id: int, limit: int = 1000) -> list[Event]:
        """Events after ``event_id``, oldest first: what a reconnecting stream missed.

        On PostgreSQL ids are handed out before commit, so two concurrent writers can commit
        out of id order; with a single engine writer (the leader) this does not happen.
        """
        query = select(event).where(event.c.id > event_id).order_by(event.c.id).limit(limit)
        return [_from_row(row) for row in self._connection.execute(query).mappings()]

    def for_run(self, run: int) -> list[Event]:
        """A run's history, oldest first."""
        query = select(event).where(event.c.run == run).order_by(event.c.id)
        return [_from_row(row) for row in self._connection.execute(query).mappings()]

    def latest_id(self) -> int:
        """The id a new stream starts after, 0 when there is no history yet."""
        latest = self._connection.execute(select(func.max(event.c.id))).scalar_one()
        return int(latest) if latest is not None else 0


def _from_row(row: RowMapping) -> Event:
    return Event(
        id=int(row["id"]),
        at=row["at"],
        run=row["run"],
        workflow=row["workflow"],
        kind=row["kind"],
        old=row["old"],
        new=row["new"],
        detail=row["detail"] or {},
    )
