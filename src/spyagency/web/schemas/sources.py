"""The sources resource: each upstream's health now, and its polls hour by hour (the numbers
of the sources page's plot)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from spyagency.domain.states import Source
from spyagency.web.schemas.base import Schema


class SourceStatus(Schema):
    source: Source
    last_success: datetime | None
    last_attempt: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    last_error_raw: str | None
    consecutive_failures: int
    stale: bool
    stale_after_minutes: float
    critical: bool = Field(description="a stale critical source makes open runs unknown")


class SourcePollHours(Schema):
    source: Source
    successes: list[int] = Field(description="successful polls in each hour of hours")
    failures: list[int] = Field(description="failed polls in each hour of hours")


class SourceHistory(Schema):
    hours: list[datetime] = Field(description="every hour of the window, oldest first")
    sources: list[SourcePollHours]
