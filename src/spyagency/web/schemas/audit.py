"""The audit log as the API pages it: who did what to which target, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from spyagency.web.schemas.base import Schema


class AuditEntry(Schema):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


class AuditPage(Schema):
    items: list[AuditEntry]
    next_before_id: int | None
