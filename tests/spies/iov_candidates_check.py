"""The candidate query checked against the per-run definition, on any database.

Per run, the rows that cover it are every row at its effective since (the greatest since not
above its first since, over the whole tag; all insertions) plus, for a lumi tag, every row
inside the run. The spy asks for the candidates of all open runs in one statement and picks
each run's share; both must agree for every IOV set and every set of open runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from sqlalchemy import Connection, delete, insert

from spyagency.domain.iov import LOW_32_BITS, TimeType, first_since_of_run, lumi_since
from spyagency.spies.conddb_queries import CandidateRows, iov_candidates, iov_candidates_statement
from spyagency.spies.conddb_schema import CondDbTables

# Few runs, so that open runs, gaps and IOV boundaries meet often; lumisection 0 and the
# last lumisection are the edges of a run's since range.
RUNS = range(1, 9)
LUMIS = (0, 1, 2, 7, LOW_32_BITS)


@dataclass(frozen=True)
class IovCase:
    time_type: TimeType
    rows: tuple[tuple[int, int], ...]  # (since, insertion number): unique, the table's key
    open_runs: tuple[int, ...]


def _sinces(time_type: TimeType, open_runs: frozenset[int]) -> st.SearchStrategy[int]:
    # Half the rows in an open run, so the edges of open runs are met often.
    runs = st.one_of(st.sampled_from(sorted(open_runs)), st.integers(0, max(RUNS) + 1))
    if time_type is TimeType.RUN:
        return runs
    return st.builds(lumi_since, runs, st.sampled_from(LUMIS))


def iov_cases(time_type: TimeType) -> st.SearchStrategy[IovCase]:
    def with_rows(open_runs: frozenset[int]) -> st.SearchStrategy[IovCase]:
        rows = st.sets(st.tuples(_sinces(time_type, open_runs), st.integers(0, 2)), max_size=30)
        return rows.map(lambda r: IovCase(time_type, tuple(sorted(r)), tuple(sorted(open_runs))))

    return st.frozensets(st.sampled_from(RUNS), min_size=1, max_size=5).flatmap(with_rows)


def hash_of(since: int, insertion: int) -> str:
    """A distinct payload hash per row, so rows can be told apart by it alone."""
    return f"{since:032x}{insertion:08x}"


def covering_by_definition(case: IovCase, run: int) -> list[str]:
    """The hashes of the rows covering ``run``, from the definition over the whole tag."""
    first = first_since_of_run(run, case.time_type)
    below = [since for since, _ in case.rows if since <= first]
    effective = max(below) if below else None
    inside = (
        (lambda since: since >> 32 == run)
        if case.time_type is TimeType.LUMI
        else (lambda since: since == run)
    )
    return sorted(hash_of(s, i) for s, i in case.rows if s == effective or inside(s))


def check_case(
    connection: Connection,
    tables: CondDbTables,
    tag: str,
    case: IovCase,
    timestamp: Callable[[int], Any],
) -> None:
    """Store ``case`` as the IOVs of ``tag``, ask as the spy does, compare run by run."""
    iov = tables.iov
    tag_name = iov.c.TAG_NAME
    connection.execute(delete(iov).where(tag_name == tag))
    if case.rows:
        connection.execute(
            insert(iov),
            [
                {
                    "TAG_NAME": tag,
                    "SINCE": since,
                    "INSERTION_TIME": timestamp(insertion),
                    "PAYLOAD_HASH": hash_of(since, insertion),
                }
                for since, insertion in case.rows
            ],
        )
    statement = iov_candidates_statement(tables)
    raws = iov_candidates(connection, statement, tag, case.time_type, case.open_runs)
    candidates = CandidateRows(raws)
    assert candidates.unplaceable == []
    for run in case.open_runs:
        picked = [candidates.raws[p] for p in candidates.covering(run, case.time_type)]
        # Ordered by since, then insertion (the hash spells both in that order).
        assert [str(raw[2]) for raw in picked] == covering_by_definition(case, run), run
