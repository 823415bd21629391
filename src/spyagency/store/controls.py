"""Runtime switches (the signal kill switch): current value, who set it, when and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from spyagency.store.schema import control
from spyagency.store.upsert import upsert

SIGNALS_ENABLED = "signals_enabled"


@dataclass(frozen=True)
class ControlSetting:
    name: str
    value: Any
    changed_by: str
    changed_at: datetime
    reason: str


class ControlRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get(self, name: str) -> ControlSetting | None:
        row = self._connection.execute(select(control).where(control.c.name == name)).mappings()
        found = row.first()
        if found is None:
            return None
        return ControlSetting(
            found["name"], found["value"], found["changed_by"], found["changed_at"], found["reason"]
        )

    def set(self, name: str, value: Any, who: str, at: datetime, reason: str = "") -> None:
        upsert(
            self._connection,
            control,
            {"name": name, "value": value, "changed_by": who, "changed_at": at, "reason": reason},
            conflict_columns=["name"],
        )
