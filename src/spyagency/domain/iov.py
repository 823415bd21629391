"""IOV ``since`` arithmetic, as the CondDB encodes it (cms-sw CondCore/CondDB/src/Time.cc).

Run: the run number. Lumi: ``run << 32 | lumi``. Time: ``unix_seconds << 32 | nanoseconds``.
An IOV lasts until the next since; among IOVs with the same since the latest insertion wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

LOW_32_BITS = 0xFFFFFFFF
MAX_RUN = LOW_32_BITS


class TimeType(StrEnum):
    RUN = "Run"
    LUMI = "Lumi"
    TIME = "Time"
    HASH = "Hash"
    USER = "User"

    @classmethod
    def parse(cls, text: str) -> TimeType:
        """Accept the CondDB spelling in any case (``Run``, ``run``, ``RUN``)."""
        for member in cls:
            if member.value.lower() == text.strip().lower():
                return member
        raise ValueError(f"unknown IOV time type {text!r}; expected one of Run, Lumi, Time")


def since_text(since: int, time_type: TimeType) -> str:
    """A since as people read it: ``380000:12`` for a lumi since (not the packed integer),
    a UTC moment for a time since, the number itself otherwise."""
    if time_type is TimeType.LUMI and since >= 0:
        run, lumi = split_lumi_since(since)
        return f"{run}:{lumi}"
    # The largest signed value is the CondDB's "end of validity", no moment: left a number.
    if time_type is TimeType.TIME and 0 <= since < 2**63 - 1:
        return f"{datetime.fromtimestamp(since >> 32, UTC):%Y-%m-%d %H:%M:%SZ}"
    return str(since)


def lumi_since(run: int, lumi: int) -> int:
    if not 0 <= run <= MAX_RUN or not 0 <= lumi <= LOW_32_BITS:
        raise ValueError(f"run {run} or lumi {lumi} out of the 32-bit range")
    return (run << 32) | lumi


def split_lumi_since(since: int) -> tuple[int, int]:
    if since < 0:
        raise ValueError(f"negative since {since}")
    return since >> 32, since & LOW_32_BITS


def time_since(moment: datetime) -> int:
    moment = moment.astimezone(UTC)
    seconds = int(moment.timestamp())
    nanoseconds = moment.microsecond * 1000
    return (seconds << 32) | nanoseconds


def split_time_since(since: int) -> datetime:
    seconds, nanoseconds = since >> 32, since & LOW_32_BITS
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=nanoseconds // 1000)


def first_since_of_run(run: int, time_type: TimeType) -> int:
    """The smallest since that lies inside ``run`` for a run- or lumi-based tag."""
    if time_type is TimeType.RUN:
        return run
    if time_type is TimeType.LUMI:
        return lumi_since(run, 1)
    raise ValueError(f"runs are not addressable in a {time_type} tag")


def run_of_since(since: int, time_type: TimeType) -> int:
    if time_type is TimeType.RUN:
        return since
    if time_type is TimeType.LUMI:
        return split_lumi_since(since)[0]
    raise ValueError(f"a {time_type} since does not name a run")


@dataclass(frozen=True, order=True)
class Iov:
    """One row of the CondDB ``IOV`` table."""

    since: int
    insertion_time: datetime
    payload_hash: str


def effective_iov(iovs: Iterable[Iov], point: int) -> Iov | None:
    """The IOV valid at ``point``: greatest since not above it, latest insertion on a tie."""
    best: Iov | None = None
    for iov in iovs:
        if iov.since > point:
            continue
        if best is None or (iov.since, iov.insertion_time) > (best.since, best.insertion_time):
            best = iov
    return best


def iovs_within_run(iovs: Iterable[Iov], run: int, time_type: TimeType) -> list[Iov]:
    """IOVs whose since lies inside ``run`` (several for a lumi-based tag)."""
    return [iov for iov in iovs if run_of_since(iov.since, time_type) == run]


def covering_iovs(iovs: Iterable[Iov], run: int, time_type: TimeType) -> list[Iov]:
    """IOVs that carry conditions for (part of) ``run``.

    For a run-based tag that is the one effective IOV at the run. For a lumi-based tag it is the
    IOV effective at the run's first lumisection plus every IOV starting inside the run.
    """
    pool = list(iovs)
    start = effective_iov(pool, first_since_of_run(run, time_type))
    found = [] if start is None else [start]
    if time_type is TimeType.LUMI:
        found.extend(iov for iov in iovs_within_run(pool, run, time_type) if iov not in found)
    return found
