"""Times and durations as operators read them: always UTC, minute precision, marked ``Z``."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from spyagency.domain.clock import utc


# A dashboard shows thousands of times, mostly the same few (one per engine save).
@lru_cache(maxsize=4096)
def when(moment: datetime | None) -> str:
    """``2026-06-01 08:00Z``, or an em dash when there is no such moment."""
    if moment is None:
        return "—"
    return f"{utc(moment):%Y-%m-%d %H:%MZ}"


def when_seconds(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return f"{utc(moment):%Y-%m-%d %H:%M:%SZ}"


@lru_cache(maxsize=4096)
def iso(moment: datetime | None) -> str:
    """Machine-readable form for ``datetime`` and ``data-*`` attributes (read by app.js)."""
    if moment is None:
        return ""
    return utc(moment).isoformat().replace("+00:00", "Z")


def duration(span: timedelta | None) -> str:
    """``2d 03h``, ``5h 07m``, ``12m``; negative spans read ``-5m`` (overdue)."""
    if span is None:
        return "—"
    seconds = int(span.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{sign}{days}d {hours:02d}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    return f"{sign}{minutes}m"


def hours_after(later: datetime | None, earlier: datetime | None) -> float | None:
    """Hours from ``earlier`` to ``later``, rounded for plots; None when either is unknown."""
    if later is None or earlier is None:
        return None
    return round((utc(later) - utc(earlier)).total_seconds() / 3600, 3)
