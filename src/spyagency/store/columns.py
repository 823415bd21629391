"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

# SQLite only auto-increments a column declared exactly ``INTEGER PRIMARY KEY`` (the rowid);
# BIGINT there would need explicit ids. PostgreSQL gets a real 64-bit identity.
Id: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A point in time, stored in UTC and always read back timezone-aware in UTC.

    PostgreSQL keeps ``timestamptz`` and returns aware values in the session time zone; SQLite
    keeps text and returns naive values. Storing UTC on both, and refusing naive input, makes
    comparisons in SQL (``claimed_until < now``) mean the same on both backends: SQLite compares
    the text, which orders correctly only when every value is in the same zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()}: pass an aware UTC time")
        moment = value.astimezone(UTC)
        # SQLite's DATETIME text format has no zone; give it the UTC wall time.
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def storable_text(text: str) -> str:
    """``text`` as both backends can keep it: PostgreSQL text cannot hold NUL, which raw
    upstream bodies occasionally contain. Both backends store the same replacement character,
    so what a test on SQLite sees is what production keeps."""
    return text.replace("\x00", "\ufffd")
