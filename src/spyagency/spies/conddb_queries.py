"""The CondDB queries: one for the tags' time types, one per tag for the IOVs covering the
open runs, one for the global-tag maps. Same statements on Oracle, PostgreSQL and sqlite, each
of a fixed shape (bind parameters; expanding IN lists), so none is recompiled per poll."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Connection, Select, String, bindparam, case, func, select

from spyagency.domain.iov import LOW_32_BITS, TimeType, first_since_of_run
from spyagency.spies.conddb_schema import CondDbTables
from spyagency.spies.failures import SchemaViolation
from spyagency.spies.parsing import parse_timestamp

# Oracle refuses IN lists above 1000 items; smaller chunks keep statements readable in logs.
CHUNK = 500


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# SINCE, INSERTION_TIME, PAYLOAD_HASH as the driver returns them.
RawIov = tuple[Any, Any, Any]


@dataclass(frozen=True)
class IovRow:
    since: int
    insertion_time: datetime
    payload_hash: str


def to_since(value: Any) -> int:
    """An IOV SINCE, normalised; Oracle NUMBER may come back as Decimal."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SchemaViolation(f"IOV SINCE is not an integer: {value!r:.80}")
    return value


def to_iov_row(since: Any, insertion_time: Any, payload_hash: Any) -> IovRow:
    """One IOV row, normalised; Oracle NUMBER may come back as Decimal, times as text."""
    since = to_since(since)
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


def _sinces_inside(run: int, time_type: TimeType) -> tuple[int, int]:
    """The lowest and highest since that name ``run`` (one value for a run-based tag)."""
    return _run_range(run) if time_type is TimeType.LUMI else (run, run)


@dataclass(frozen=True)
class CandidateBounds:
    """Where the candidates of a set of runs lie in one tag.

    ``first`` is the first since of the lowest run (its effective IOV is the greatest since
    not above it), ``low`` the lowest since inside the lowest run (below ``first`` for lumi
    tags: lumisection 0), ``high`` the highest since inside the highest run."""

    first: int
    low: int
    high: int


def candidate_bounds(runs: Sequence[int], time_type: TimeType) -> CandidateBounds:
    if not runs:
        raise ValueError("no runs to bound")
    lowest, highest = min(runs), max(runs)
    return CandidateBounds(
        first=first_since_of_run(lowest, time_type),
        low=_sinces_inside(lowest, time_type)[0],
        high=_sinces_inside(highest, time_type)[1],
    )


def iov_candidates_statement(tables: CondDbTables) -> Select[Any, Any, Any]:
    """Rows of the tag ``:tag`` that may cover a run between two bounds, in one statement
    whose shape never changes (only bind values do), so each database and SQLAlchemy
    compile it once.

    The rows kept are those from ``lower`` up to ``:high``, where ``lower`` is the effective
    since of the lowest run (greatest since not above ``:first``), or ``:low`` when that
    lies below it or does not exist. Every run in between is then covered by rows in this
    range: its effective since is at or above the lowest run's, and its own sinces are inside
    ``[:low, :high]``. One index range scan on (TAG_NAME, SINCE), whatever the history."""
    iov = tables.iov
    # Lowercase aliases: the uppercase column names are the schema's, not constants.
    since, tag_name = iov.c.SINCE, iov.c.TAG_NAME
    tag = bindparam("tag", type_=String())
    first = bindparam("first", type_=BigInteger())
    low = bindparam("low", type_=BigInteger())
    high = bindparam("high", type_=BigInteger())
    # Its own alias: the inner query reads the same table, never the outer row.
    earlier = iov.alias("EARLIER")
    earlier_since, earlier_tag = earlier.c.SINCE, earlier.c.TAG_NAME
    effective = (
        select(func.max(earlier_since))
        .where(earlier_tag == tag, earlier_since <= first)
        .scalar_subquery()
    )
    # CASE rather than LEAST/MIN: the one spelling Oracle, PostgreSQL and sqlite share. A NULL
    # effective since (nothing below the lowest run) falls through to ``:low``.
    lower = case((effective < low, effective), else_=low)
    return (
        select(since, iov.c.INSERTION_TIME, iov.c.PAYLOAD_HASH)
        .where(tag_name == tag, since >= lower, since <= high)
        .order_by(since, iov.c.INSERTION_TIME)
    )


def iov_candidates(
    connection: Connection,
    statement: Select[Any, Any, Any],
    tag: str,
    time_type: TimeType,
    runs: Sequence[int],
) -> list[RawIov]:
    """Rows of ``tag`` that may cover one of ``runs`` (``statement`` from
    ``iov_candidates_statement``): a superset of the rows at each run's effective since and,
    for lumi tags, of those starting inside a run. ``CandidateRows.covering`` picks each
    run's share. One statement, whatever the number of runs."""
    bounds = candidate_bounds(runs, time_type)
    parameters = {"tag": tag, "first": bounds.first, "low": bounds.low, "high": bounds.high}
    return [(r[0], r[1], r[2]) for r in connection.execute(statement, parameters)]


class CandidateRows:
    """The candidate rows of one tag, as returned, ordered by since, for picking each run's
    covering rows by position. Rows are parsed only when they cover a run, so a bad row that
    covers no open run costs nothing and reports nothing, as when each run was asked alone."""

    def __init__(self, raws: Iterable[RawIov]) -> None:
        placed: list[tuple[int, RawIov]] = []
        # Rows whose SINCE is no integer cannot be placed; the spy reports them.
        self.unplaceable: list[tuple[RawIov, SchemaViolation]] = []
        for raw in raws:
            try:
                placed.append((to_since(raw[0]), raw))
            except SchemaViolation as bad:
                self.unplaceable.append((raw, bad))
        # Stable: rows at one since keep the database's insertion-time order.
        placed.sort(key=lambda pair: pair[0])
        self.sinces = [since for since, _ in placed]
        self.raws = [raw for _, raw in placed]

    def covering(self, run: int, time_type: TimeType) -> range:
        """Positions (in ``raws``) of the rows that cover ``run``: every row at its effective
        since (all insertions, the fold picks the latest) plus, for lumi tags, every row
        inside the run.

        Correct when the rows hold, for ``run``, the greatest since not above its first
        since over the whole tag (``iov_candidates`` guarantees that)."""
        first = first_since_of_run(run, time_type)
        low, high = _sinces_inside(run, time_type)
        below = bisect_right(self.sinces, first)
        start = bisect_left(self.sinces, low)
        if below > 0:
            start = min(start, bisect_left(self.sinces, self.sinces[below - 1]))
        # One slice: nothing lies strictly between the effective since and ``first``, and
        # between ``low`` and ``first`` only rows inside the run.
        return range(start, bisect_right(self.sinces, high))


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
