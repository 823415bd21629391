"""What the Tier-0 reads: the readiness signals (the readiness contract) and the queue,
the head of the line that holds later ready runs back."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from spyagency.web.schemas.base import Schema


class ReadinessSignal(Schema):
    run: int
    verdict: Literal["ready"]
    idempotency_key: str
    decided_at: datetime
    evidence_url: str


class QueueHead(Schema):
    run: int
    verdict: str
    reasons: list[str]
    verdict_since: datetime


class Queue(Schema):
    """The head of the line: the Tier-0 releases in run order, so the lowest run that is not
    ready, locked or final holds back every ready run above it."""

    generated_at: datetime
    head: QueueHead | None = Field(description="the run the ready runs above wait for")
    held_runs: list[int] = Field(description="ready runs above the head, lowest first")
    holding_since: datetime | None = Field(
        description="since when the head holds a ready run back (null: it holds none)"
    )


class Readiness(Schema):
    api_version: Literal["1"] = "1"
    generated_at: datetime
    signals: list[ReadinessSignal]
    signals_enabled: bool = Field(description="false: the kill switch is off, no run is ready")
    dry_run: bool = Field(description="signals are recorded but not pushed")
    held_by: int | None = Field(
        default=None,
        description="the run every later ready run waits for (see /api/v1/queue), if any",
    )
