"""The audit log: who did what to which target, append-only, newest first when read."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from spyagency.store.schema import audit_log


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any] = field(default_factory=dict)


class AuditRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def append(
        self,
        at: datetime,
        actor: str,
        action: str,
        target: str,
        detail: dict[str, Any] | None = None,
    ) -> int:
        values = {
            "at": at,
            "actor": actor,
            "action": action,
            "target": target,
            "detail": detail or {},
        }
        statement = insert(audit_log).values(values).returning(audit_log.c.id)
        return int(self._connection.execute(statement).scalar_one())

    def list(self, limit: int = 100, before_id: int | None = None) -> builtins.list[AuditEntry]:
        """Newest first; the next page starts ``before_id=<last id of this page>``."""
        query = select(audit_log)
        if before_id is not None:
            query = query.where(audit_log.c.id < before_id)
        query = query.order_by(audit_log.c.id.desc()).limit(limit)
        return [
            AuditEntry(
                id=int(row["id"]),
                at=row["at"],
                actor=row["actor"],
                action=row["action"],
                target=row["target"],
                detail=row["detail"] or {},
            )
            for row in self._connection.execute(query).mappings()
        ]
