"""IOV ``since`` encoding of the CondDB (CondCore/CondDB Time.cc)."""

from __future__ import annotations

LUMI_MASK = (1 << 32) - 1


def run_since(run: int) -> int:
    return run


def lumi_since(run: int, lumi: int) -> int:
    if not (0 <= run <= LUMI_MASK and 0 <= lumi <= LUMI_MASK):
        raise ValueError("run and lumi must fit in 32 bits")
    return (run << 32) | lumi


def split_lumi_since(since: int) -> tuple[int, int]:
    return since >> 32, since & LUMI_MASK


def time_since(unix_seconds: int, nanoseconds: int = 0) -> int:
    return (unix_seconds << 32) | nanoseconds


def run_of_since(since: int, time_type: str) -> int:
    """The run in which an IOV of the given time type starts."""
    return since >> 32 if time_type == "lumi" else since
