"""How trustworthy each source is right now."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from spyagency.domain.states import Source


@dataclass(frozen=True)
class SourceHealth:
    source: Source
    last_success: datetime | None = None
    last_attempt: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_error_raw: str | None = None
    consecutive_failures: int = 0

    def is_stale(self, now: datetime, threshold: timedelta) -> bool:
        """Never heard from, or not heard from successfully for longer than ``threshold``."""
        return self.last_success is None or now - self.last_success > threshold


def stale_sources(
    health: Mapping[Source, SourceHealth],
    now: datetime,
    thresholds: Mapping[Source, timedelta],
    among: frozenset[Source],
) -> list[Source]:
    """Sources in ``among`` that are stale or have never been heard from."""
    stale = []
    for source in sorted(among):
        record = health.get(source)
        threshold = thresholds.get(source, timedelta(minutes=30))
        if record is None or record.is_stale(now, threshold):
            stale.append(source)
    return stale


def all_heard_since(
    health: Mapping[Source, SourceHealth], moment: datetime, among: frozenset[Source]
) -> bool:
    """Whether every source in ``among`` has answered successfully at or after ``moment``."""
    for source in among:
        record = health.get(source)
        if record is None or record.last_success is None or record.last_success < moment:
            return False
    return True
