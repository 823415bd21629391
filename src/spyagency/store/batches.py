"""Splitting long ``IN (...)`` lists: SQLite allows at most 32766 bound parameters per
statement and psycopg 65535, and long lists plan badly anyway."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

IN_CHUNK = 500


def chunked(values: Iterable[int], size: int = IN_CHUNK) -> Iterator[list[int]]:
    """``values`` sorted and without duplicates, ``size`` at a time."""
    ordered = iter(sorted(set(values)))
    while chunk := list(islice(ordered, size)):
        yield chunk
