"""Expert overrides: kept forever (revoking marks, never deletes) so history shows them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, insert, or_, select, update

from spyagency.domain.overrides import Override, OverrideKind
from spyagency.store.schema import override


@dataclass(frozen=True)
class OverrideRecord:
    """An override with what the domain does not keep: who revoked it."""

    override: Override
    revoked_by: str | None = None


class OverrideRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, item: Override) -> Override:
        """Store ``item`` (its ``id`` is ignored); returns it with the id it was given."""
        values = {
            "run": item.run,
            "kind": item.kind.value,
            "workflow": item.workflow,
            "who": item.who,
            "why": item.why,
            "created_at": item.created_at,
            "expires_at": item.expires_at,
            "revoked_at": item.revoked_at,
            "revoked_by": None,
        }
        statement = insert(override).values(values).returning(override.c.id)
        return replace(item, id=int(self._connection.execute(statement).scalar_one()))

    def revoke(self, override_id: int, who: str, at: datetime) -> bool:
        """Revoke from ``at`` on; False if there is no such override or it is already revoked."""
        result = self._connection.execute(
            update(override)
            .where(override.c.id == override_id, override.c.revoked_at.is_(None))
            .values(revoked_at=at, revoked_by=who)
        )
        return result.rowcount == 1

    def get(self, override_id: int) -> OverrideRecord | None:
        found = self._records(select(override).where(override.c.id == override_id))
        return found[0] if found else None

    def for_run(self, run: int) -> list[OverrideRecord]:
        """Every override ever given for ``run``, active or not, oldest first."""
        return self._records(select(override).where(override.c.run == run).order_by(override.c.id))

    def active(self, now: datetime) -> list[Override]:
        """Overrides in force at ``now``: created, not expired, not revoked."""
        query = (
            select(override)
            .where(override.c.created_at <= now, override.c.expires_at > now)
            .where(_not_revoked_by(now))
            .order_by(override.c.id)
        )
        return [record.override for record in self._records(query)]

    def all_in_force_or_expiring_after(self, now: datetime) -> list[Override]:
        """Overrides that matter from ``now`` on: in force, or starting later, and not expired
        or revoked by ``now``. What the engine hands to the verdict rules."""
        query = (
            select(override)
            .where(override.c.expires_at > now)
            .where(_not_revoked_by(now))
            .order_by(override.c.id)
        )
        return [record.override for record in self._records(query)]

    def _records(self, query: Select[Any]) -> list[OverrideRecord]:
        return [_from_row(row) for row in self._connection.execute(query).mappings()]


def _not_revoked_by(now: datetime) -> Any:
    return or_(override.c.revoked_at.is_(None), override.c.revoked_at > now)


def _from_row(row: RowMapping) -> OverrideRecord:
    item = Override(
        run=int(row["run"]),
        kind=OverrideKind(row["kind"]),
        who=row["who"],
        why=row["why"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        workflow=row["workflow"],
        revoked_at=row["revoked_at"],
        id=int(row["id"]),
    )
    return OverrideRecord(item, row["revoked_by"])
