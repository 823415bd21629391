"""Alerts: one open alert per dedupe key, touched while the condition lasts, resolved when it
ends. Acknowledging silences an alert only for the state it was acknowledged in: when the
state it describes changes (say ``timed_out`` becomes ``upload_failed``), the ack is cleared
and the alert speaks again."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, select, update

from spyagency.domain.alerting import AlertCandidate
from spyagency.store.schema import alert
from spyagency.store.upsert import insert_or_ignore


@dataclass(frozen=True)
class Alert:
    id: int
    dedupe_key: str
    kind: str
    severity: str
    run: int | None
    workflow: str | None
    source: str | None
    message: str
    description: str
    state: str | None
    opened_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    acknowledged_state: str | None

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None


class AlertRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def open_or_touch(
        self,
        dedupe_key: str,
        kind: str,
        severity: str,
        run: int | None,
        workflow: str | None,
        source: str | None,
        message: str,
        now: datetime,
        state: str | None = None,
        description: str = "",
    ) -> tuple[Alert, bool]:
        """Open an alert for ``dedupe_key``, or refresh the open one; True when newly opened.

        ``kind`` is an ``AlertKind`` of the domain; ``message`` the one-line summary.
        ``state`` is what the alert is about (e.g. the workflow state); a change of it clears
        an earlier acknowledgement.
        """
        values = {
            "severity": str(severity),
            "message": message,
            "description": description,
            "state": state,
            "last_seen_at": now,
        }
        inserted = insert_or_ignore(
            self._connection,
            alert,
            {
                "dedupe_key": dedupe_key,
                "open_key": dedupe_key,
                "kind": str(kind),
                "run": run,
                "workflow": workflow,
                "source": source,
                "opened_at": now,
                **values,
            },
            conflict_columns=["open_key"],
        )
        current = self._open(dedupe_key)
        if inserted:
            return current, True
        if current.acknowledged_state is not None and current.acknowledged_state != state:
            values.update(acknowledged_by=None, acknowledged_at=None, acknowledged_state=None)
        self._connection.execute(update(alert).where(alert.c.id == current.id).values(values))
        return self._get_required(current.id), False

    def touch_many(self, alert_ids: list[int], now: datetime) -> None:
        """Mark open alerts whose condition still holds, unchanged, as seen at ``now``: one
        statement for all of them (``open_or_touch`` is for alerts that open or change)."""
        if alert_ids:
            self._connection.execute(
                update(alert)
                .where(alert.c.id.in_(alert_ids), alert.c.resolved_at.is_(None))
                .values(last_seen_at=now)
            )

    def open_or_touch_candidate(
        self, candidate: AlertCandidate, now: datetime
    ) -> tuple[Alert, bool]:
        """``open_or_touch`` for an alert the domain's alerting rules asked for."""
        return self.open_or_touch(
            candidate.dedupe_key,
            candidate.kind,
            candidate.severity,
            candidate.run,
            candidate.workflow,
            candidate.source.value if candidate.source else None,
            candidate.summary,
            now,
            state=candidate.state,
            description=candidate.description,
        )

    def resolve(self, dedupe_key: str, now: datetime) -> Alert | None:
        """Close the open alert of ``dedupe_key``; None if none was open."""
        statement = (
            update(alert)
            .where(alert.c.open_key == dedupe_key)
            .values(open_key=None, resolved_at=now)
            .returning(*alert.c)
        )
        row = self._connection.execute(statement).mappings().first()
        return _from_row(row) if row is not None else None

    def acknowledge(self, alert_id: int, who: str, now: datetime, state: str | None = None) -> bool:
        """Silence an open alert while it stays in ``state`` (default: its current state)."""
        current = self.get(alert_id)
        if current is None or not current.is_open:
            return False
        result = self._connection.execute(
            update(alert)
            .where(alert.c.id == alert_id, alert.c.resolved_at.is_(None))
            .values(
                acknowledged_by=who,
                acknowledged_at=now,
                acknowledged_state=state if state is not None else current.state,
            )
        )
        return result.rowcount == 1

    def get(self, alert_id: int) -> Alert | None:
        row = self._connection.execute(select(alert).where(alert.c.id == alert_id)).mappings()
        found = row.first()
        return _from_row(found) if found is not None else None

    def open_alerts(self) -> list[Alert]:
        """Open alerts, oldest first.

        Found through the unique index on ``open_key`` (set exactly while an alert is open),
        so the cost follows the open alerts, not the years of resolved ones: the engine reads
        them after every batch. The range ``>= ''`` (every key is) is what lets SQLite's
        planner use that index without statistics (``IS NOT NULL`` or an ``ORDER BY id``
        makes it scan the table), hence the sort here.
        """
        query = select(alert).where(alert.c.open_key >= "")
        return sorted(self._read(query), key=lambda found: found.id)

    def open_alerts_of(self, runs: Iterable[int], *, system: bool) -> list[Alert]:
        """Open alerts of ``runs``, and with ``system`` those of no run (the sources'), oldest
        first: what the engine reconciles after a batch, through the (run, open_key) index."""
        wanted = sorted(set(runs))
        found: list[Alert] = []
        # Chunks keep the statement's parameters well within every driver's limit.
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            query = select(alert).where(alert.c.run.in_(chunk), alert.c.open_key >= "")
            found.extend(self._read(query))
        if system:
            query = select(alert).where(alert.c.run.is_(None), alert.c.open_key >= "")
            found.extend(self._read(query))
        return sorted(found, key=lambda item: item.id)

    def for_run(self, run: int) -> list[Alert]:
        """Every alert ever raised about ``run``, open or resolved, newest first."""
        return self._read(select(alert).where(alert.c.run == run).order_by(alert.c.id.desc()))

    def history(self, limit: int = 100, before_id: int | None = None) -> list[Alert]:
        """All alerts, newest first; page on with ``before_id``."""
        query = select(alert)
        if before_id is not None:
            query = query.where(alert.c.id < before_id)
        return self._read(query.order_by(alert.c.id.desc()).limit(limit))

    def _open(self, dedupe_key: str) -> Alert:
        query = select(alert).where(alert.c.open_key == dedupe_key).with_for_update()
        return _from_row(self._connection.execute(query).mappings().one())

    def _get_required(self, alert_id: int) -> Alert:
        found = self.get(alert_id)
        if found is None:
            raise LookupError(f"alert {alert_id} vanished")
        return found

    def _read(self, query: Any) -> list[Alert]:
        return [_from_row(row) for row in self._connection.execute(query).mappings()]


def _from_row(row: RowMapping) -> Alert:
    return Alert(**{name: row[name] for name in Alert.__dataclass_fields__})
