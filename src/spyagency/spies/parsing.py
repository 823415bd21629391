"""Strict field access for parsers: extra fields are ignored, needed fields must be right.

Every helper raises ``SchemaViolation`` (never ``KeyError``/``TypeError``), so a spy can drop
the one bad item and keep the others.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from spyagency.spies.failures import SchemaViolation

RUN_NUMBER = re.compile(r"^[1-9][0-9]{1,6}$")
_MISSING = object()


def compact(value: Any) -> str:
    """Evidence text for one item of a document."""
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError, RecursionError):
        return repr(value)


def as_mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SchemaViolation(f"{what}: expected an object, got {type(value).__name__}")
    return value


def as_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise SchemaViolation(f"{what}: expected a list, got {type(value).__name__}")
    return value


def _get(item: Mapping[str, Any], key: str) -> Any:
    value = item.get(key, _MISSING)
    if value is _MISSING:
        raise SchemaViolation(f"missing field {key!r}", compact(item))
    return value


def require_str(item: Mapping[str, Any], key: str) -> str:
    value = _get(item, key)
    if not isinstance(value, str):
        raise SchemaViolation(f"field {key!r} must be a string", compact(item))
    return value


def optional_str(item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise SchemaViolation(f"field {key!r} must be a string or null", compact(item))
    return value


def to_int(value: Any, what: str) -> int:
    """Integers, also when a service sends them as digit strings (DQM scalars, OMS ids)."""
    if isinstance(value, bool):
        raise SchemaViolation(f"{what} must be an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,19}", value.strip()):
        return int(value.strip())
    raise SchemaViolation(f"{what} must be an integer, got {value!r:.80}")


def require_int(item: Mapping[str, Any], key: str) -> int:
    value = _get(item, key)
    try:
        return to_int(value, f"field {key!r}")
    except SchemaViolation as bad:
        raise SchemaViolation(bad.message, compact(item)) from None


def optional_int(item: Mapping[str, Any], key: str) -> int | None:
    value = item.get(key)
    return None if value is None else require_int(item, key)


def optional_float(item: Mapping[str, Any], key: str) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SchemaViolation(f"field {key!r} must be a number or null", compact(item))
    return float(value)


def to_bool(value: Any, what: str) -> bool:
    """Booleans, also as 0/1 (the Tier-0 data service answers some flags as integers)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise SchemaViolation(f"{what} must be a boolean, got {value!r:.80}")


def optional_bool(item: Mapping[str, Any], key: str) -> bool | None:
    value = item.get(key)
    if value is None:
        return None
    try:
        return to_bool(value, f"field {key!r}")
    except SchemaViolation as bad:
        raise SchemaViolation(bad.message, compact(item)) from None


def run_number(value: Any) -> int:
    """A run number as the Tier-0 data service accepts it: ``^[1-9][0-9]{1,6}$``."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not RUN_NUMBER.fullmatch(text):
        raise SchemaViolation(f"not a valid run number: {value!r:.80}")
    return int(text)


def parse_timestamp(value: Any, what: str) -> datetime:
    """ISO-8601 text or a datetime, as an aware UTC datetime; naive values are UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise SchemaViolation(f"{what}: not an ISO-8601 time: {value!r:.80}") from None
    else:
        raise SchemaViolation(f"{what}: expected a time, got {type(value).__name__}")
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def optional_timestamp(item: Mapping[str, Any], key: str) -> datetime | None:
    value = _get(item, key)
    if value is None:
        return None
    try:
        return parse_timestamp(value, f"field {key!r}")
    except SchemaViolation as bad:
        raise SchemaViolation(bad.message, compact(item)) from None


def strings(value: Any, what: str) -> tuple[str, ...]:
    items = as_list(value, what)
    if not all(isinstance(v, str) for v in items):
        raise SchemaViolation(f"{what}: every entry must be a string")
    return tuple(items)
