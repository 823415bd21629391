"""The CondDB queries: one for the tags' time types, one per tag for the IOVs covering the
open runs, one for the global-tag maps. Same statements on Oracle, PostgreSQL and sqlite."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from spyagency.domain.iov import LOW_32_BITS, TimeType, first_since_of_run
from spyagency.spies.conddb_schema import CondDbTables
from spyagency.spies.failures import SchemaViolation
from spyagency.spies.parsing import parse_timestamp

# Oracle refuses IN lists above 1000 items; smaller chunks keep statements readable in logs.
CHUNK = 500


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class IovRow:
    since: int
    insertion_time: datetime
    payload_hash: str


def to_iov_row(since: Any, insertion_time: Any, payload_hash: Any) -> IovRow:
    """One IOV row, normalised; Oracle NUMBER may come back as Decimal, times as text."""
    if isinstance(since, Decimal) and since == since.to_integral_value():
        since = int(since)
    if isinstance(since, bool) or not isinstance(since, int):
        raise SchemaViolation(f"IOV SINCE is not an integer: {since!r:.80}")
    if not isinstance(payload_hash, str) or not payload_hash:
        raise SchemaViolation(f"IOV PAYLOAD_HASH is not a hash: {payload_hash!r:.80}")
    return IovRow(since, parse_timestamp(insertion_time, "IOV INSERTION_TIME"), payload_hash)


def time_types(connection: Connection, tables: CondDbTables, tags: Sequence[str]) -> dict[str, str]:
    tag = tables.tag
    found: dict[str, str] = {}
    for part in chunks(sorted(tags)):
        statement = select(tag.c.NAME, tag.c.TIME_TYPE).where(tag.c.NAME.in_(part))
        for name, time_type in connection.execute(statement):
            found[str(name)] = str(time_type)
    return found


def _run_range(run: int) -> tuple[int, int]:
    """The lumi-since range of one run: ``run << 32`` to ``run << 32 | 0xFFFFFFFF``."""
    return run << 32, (run << 32) | LOW_32_BITS


def iov_candidates(
    connection: Connection,
    tables: CondDbTables,
    tag: str,
    time_type: TimeType,
    runs: Sequence[int],
) -> list[tuple[Any, Any, Any]]:
    """Rows of ``tag`` that may cover one of ``runs``: those at each run's effective since
    (a scalar subquery finds the greatest since not above the run's first since) and, for
    lumi tags, those starting inside a run. One statement per chunk of runs."""
    iov = tables.iov
    # Lowercase aliases: the uppercase column names are the schema's, not constants.
    since, tag_name = iov.c.SINCE, iov.c.TAG_NAME
    rows: list[tuple[Any, Any, Any]] = []
    for part in chunks(sorted(runs), 100):
        conditions: list[ColumnElement[bool]] = []
        for run in part:
            effective = (
                select(func.max(since))
                .where(tag_name == tag, since <= first_since_of_run(run, time_type))
                .scalar_subquery()
            )
            conditions.append(since == effective)
            if time_type is TimeType.LUMI:
                low, high = _run_range(run)
                conditions.append(since.between(low, high))
        statement = (
            select(since, iov.c.INSERTION_TIME, iov.c.PAYLOAD_HASH)
            .where(tag_name == tag, or_(*conditions))
            .order_by(since, iov.c.INSERTION_TIME)
        )
        rows.extend((r[0], r[1], r[2]) for r in connection.execute(statement))
    return rows


def covering(rows: Sequence[IovRow], run: int, time_type: TimeType) -> list[IovRow]:
    """The candidate rows that cover ``run``: every row at the effective since (all
    insertions, the fold picks the latest) plus, for lumi tags, every row inside the run.

    Correct on the candidate set because it contains, for each run, the greatest since not
    above the run's first since over the whole tag."""
    first = first_since_of_run(run, time_type)
    below = [r.since for r in rows if r.since <= first]
    effective = max(below) if below else None
    low, high = _run_range(run) if time_type is TimeType.LUMI else (run, run)
    return [r for r in rows if r.since == effective or low <= r.since <= high]


def global_tag_maps(
    connection: Connection, tables: CondDbTables, global_tags: Sequence[str]
) -> dict[str, list[str]]:
    gtm = tables.global_tag_map
    found: dict[str, list[str]] = {}
    for part in chunks(sorted(set(global_tags))):
        statement = select(gtm.c.GLOBAL_TAG_NAME, gtm.c.TAG_NAME).where(
            gtm.c.GLOBAL_TAG_NAME.in_(part)
        )
        for global_tag, tag in connection.execute(statement):
            found.setdefault(str(global_tag), []).append(str(tag))
    return found
