"""The alerts resource: one alert, the open ones with a page of history, and the body of an
acknowledgement."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict

from spyagency.web.schemas.base import Schema
from spyagency.web.schemas.inputs import FreeText


class Alert(Schema):
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
    is_open: bool


class Alerts(Schema):
    open: list[Alert]
    history: list[Alert]
    next_before_id: int | None


class Acknowledgement(Schema):
    """An acknowledgement may say what is being done about the alert (optional: a busy
    operator's one click must still work), kept in the audit log."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    note: FreeText | None = None
