"""Readiness decisions, each recorded with its evidence before any message about it is sent,
and keyed so that one decision is never recorded (or sent) twice."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, func, select, update

from spyagency.domain.states import Verdict
from spyagency.store.schema import signal
from spyagency.store.upsert import insert_or_ignore


@dataclass(frozen=True)
class Signal:
    id: int
    run: int
    verdict: Verdict
    idempotency_key: str
    decided_at: datetime
    evidence: dict[str, Any] = field(default_factory=dict)
    sent: bool = False


@dataclass(frozen=True)
class LatestDecision:
    """The newest decision about a run, and how many decisions there were in all."""

    run: int
    verdict: Verdict
    idempotency_key: str
    decided_at: datetime
    sent: bool
    decisions: int


class SignalRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def record(
        self,
        run: int,
        verdict: Verdict,
        idempotency_key: str,
        decided_at: datetime,
        evidence: dict[str, Any],
    ) -> bool:
        """Record a decision; False (nothing written) if the key was recorded before."""
        values = {
            "run": run,
            "verdict": verdict.value,
            "idempotency_key": idempotency_key,
            "decided_at": decided_at,
            "evidence": evidence,
            "sent": False,
        }
        return insert_or_ignore(self._connection, signal, values, ["idempotency_key"])

    def mark_sent(self, idempotency_key: str) -> bool:
        statement = (
            update(signal)
            .where(signal.c.idempotency_key == idempotency_key, signal.c.sent.is_(False))
            .values(sent=True)
        )
        return self._connection.execute(statement).rowcount == 1

    def get(self, idempotency_key: str) -> Signal | None:
        query = select(signal).where(signal.c.idempotency_key == idempotency_key)
        row = self._connection.execute(query).mappings().first()
        return _from_row(row) if row is not None else None

    def ready_after(self, run: int, limit: int = 100) -> list[Signal]:
        """Ready decisions for runs above ``run``, in run order: what a Tier-0 poller that has
        handled everything up to ``run`` should look at next."""
        query = (
            select(signal)
            .where(signal.c.verdict == Verdict.READY.value, signal.c.run > run)
            .order_by(signal.c.run, signal.c.id)
            .limit(limit)
        )
        return [_from_row(row) for row in self._connection.execute(query).mappings()]

    def all_latest(self) -> list[LatestDecision]:
        """Per run, the newest decision and the number of decisions, in run order: what an
        engine needs at start-up to know what it last announced."""
        per_run = (
            select(
                signal.c.run,
                func.max(signal.c.id).label("latest_id"),
                func.count().label("decisions"),
            )
            .group_by(signal.c.run)
            .subquery()
        )
        query = (
            select(signal, per_run.c.decisions)
            .join(per_run, signal.c.id == per_run.c.latest_id)
            .order_by(signal.c.run)
        )
        return [
            LatestDecision(
                run=int(row["run"]),
                verdict=Verdict(row["verdict"]),
                idempotency_key=row["idempotency_key"],
                decided_at=row["decided_at"],
                sent=bool(row["sent"]),
                decisions=int(row["decisions"]),
            )
            for row in self._connection.execute(query).mappings()
        ]

    def for_run(self, run: int) -> list[Signal]:
        """Every decision about ``run``, oldest first."""
        query = select(signal).where(signal.c.run == run).order_by(signal.c.id)
        return [_from_row(row) for row in self._connection.execute(query).mappings()]


def _from_row(row: RowMapping) -> Signal:
    return Signal(
        id=int(row["id"]),
        run=int(row["run"]),
        verdict=Verdict(row["verdict"]),
        idempotency_key=row["idempotency_key"],
        decided_at=row["decided_at"],
        evidence=row["evidence"] or {},
        sent=bool(row["sent"]),
    )
