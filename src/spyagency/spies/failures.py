"""How a spy's failures travel until they become ``SourceError`` entries of a report.

Inside a spy every failure is a ``SourceFailure`` (or a ``SchemaViolation`` from a parser);
``poll`` converts them, so nothing escapes to the engine.
"""

from __future__ import annotations

# Evidence is kept for humans reading an alarm; a few KiB is enough to see what went wrong
# without letting a runaway upstream answer fill the store.
RAW_LIMIT = 4096


def truncate_raw(text: str, limit: int = RAW_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"... [{len(text) - limit} more characters]"


def is_permanent_status(status: int) -> bool:
    """4xx answers other than 408 (timeout) and 429 (rate limit) will not heal by retrying."""
    return 400 <= status < 500 and status not in (408, 429)


class SourceFailure(Exception):
    """A failure to get a usable answer from an upstream source."""

    def __init__(
        self, message: str, *, raw: str = "", url: str | None = None, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.raw = truncate_raw(raw)
        self.url = url
        self.permanent = permanent


class SchemaViolation(ValueError):
    """A document or item does not have the shape a parser needs."""

    def __init__(self, message: str, raw: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.raw = truncate_raw(raw)
