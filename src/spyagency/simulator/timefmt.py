"""Time formats used on the wire and in sqlite. Simulated times are Unix seconds (float, UTC)."""

from __future__ import annotations

import datetime as dt


def to_datetime(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, tz=dt.UTC)


def iso_z(t: float) -> str:
    """OMS style: second precision, ``Z`` suffix."""
    return to_datetime(t).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_micro(t: float) -> str:
    """ISO-8601 with microseconds and ``Z`` (clock, truth and log times)."""
    return to_datetime(t).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sqlite_timestamp(t: float) -> str:
    """How SQLAlchemy stores a naive UTC DateTime in sqlite: 'YYYY-MM-DD HH:MM:SS.ffffff'."""
    return to_datetime(t).strftime("%Y-%m-%d %H:%M:%S.%f")


def parse_iso(text: str) -> float:
    """Parse an ISO-8601 time; a time without zone is taken as UTC."""
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()
