from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.pool import Pool, StaticPool

from spyagency.domain.facts import GlobalTagMap, IovSeen
from spyagency.domain.iov import TimeType, lumi_since
from spyagency.domain.states import Source
from spyagency.spies.conddb import CondDbSpy, sqlite_file_of, sqlite_readonly_url
from spyagency.spies.conddb_schema import CondDbTables, conddb_tables
from spyagency.spies.scope import PollScope, RunScope, WorkflowScope
from tests.spies.condb_files import DDL, CondDbFile
from tests.spies.fakes import NOW, fixed_clock
from tests.spies.iov_candidates_check import IovCase, check_case, iov_cases

RUN_TAG = "SiStripApvGain_PCL_v0_prompt"
LUMI_TAG = "BeamSpotObjects_PCL_byLumi_v0_prompt"
T1 = datetime(2026, 5, 30, 10, 0, tzinfo=UTC)
T2 = T1 + timedelta(hours=5)


def workflow(tag: str, time_type: TimeType = TimeType.RUN) -> WorkflowScope:
    return WorkflowScope(
        name=tag,
        producer="PromptCalibProd",
        input_tags=("x",),
        time_type=time_type,
        destination_tags=(tag,),
        dqm_folder=None,
        streams=("Express",),
    )


def scope_for(runs: dict[int, list[WorkflowScope]], gts: tuple[str, ...] = ()) -> PollScope:
    return PollScope(
        now=NOW,
        runs=tuple(RunScope(r, True, workflows=tuple(w)) for r, w in runs.items()),
        prompt_global_tags=gts,
    )


def iovs(report: Any, run: int, tag: str) -> list[tuple[int, datetime, str]]:
    return sorted(
        (o.fact.since, o.fact.insertion_time, o.fact.payload_hash)
        for o in report.observations
        if isinstance(o.fact, IovSeen) and o.fact.run == run and o.fact.tag == tag
    )


def make_db(tmp_path: Path) -> tuple[CondDbFile, dict[str, str]]:
    db = CondDbFile(tmp_path / "conddb.db")
    db.tag(RUN_TAG, "Run")
    db.tag(LUMI_TAG, "Lumi")
    h = {
        "old": db.iov(RUN_TAG, 379000, T1, "old"),
        "first": db.iov(RUN_TAG, 380000, T1, "first"),
        "second": db.iov(RUN_TAG, 380000, T2, "second"),
        "later": db.iov(RUN_TAG, 380005, T2, "later"),
        "l_prev": db.iov(LUMI_TAG, lumi_since(379999, 10), T1, "l_prev"),
        "l_1": db.iov(LUMI_TAG, lumi_since(380000, 1), T1, "l_1"),
        "l_50": db.iov(LUMI_TAG, lumi_since(380000, 50), T1, "l_50"),
        "l_next": db.iov(LUMI_TAG, lumi_since(380001, 1), T2, "l_next"),
    }
    db.map_tag("150X_dataRun3_Prompt_v1", "SiStripApvGainRcd", RUN_TAG)
    db.map_tag("150X_dataRun3_Prompt_v1", "BeamSpotObjectsRcd", LUMI_TAG)
    db.map_tag("150X_dataRun3_Express_v1", "BeamSpotObjectsRcd", "BeamSpot_express")
    return db, h


async def test_covering_iovs_per_run_and_tag(tmp_path: Path) -> None:
    db, h = make_db(tmp_path)
    both = [workflow(RUN_TAG), workflow(LUMI_TAG, TimeType.LUMI)]
    scope = scope_for(
        {380000: both, 380003: both, 380007: [workflow(RUN_TAG)], 379999: both},
        gts=("150X_dataRun3_Prompt_v1", "unknown_GT"),
    )
    spy = CondDbSpy(sqlite_readonly_url(db.path), clock=fixed_clock)
    report = await spy.poll(scope)
    await spy.aclose()
    assert report.errors == [] and report.source is Source.CONDDB
    # Both insertions at the effective since: the fold lets the latest win.
    assert iovs(report, 380000, RUN_TAG) == [(380000, T1, h["first"]), (380000, T2, h["second"])]
    assert iovs(report, 380003, RUN_TAG) == iovs(report, 380000, RUN_TAG)
    assert iovs(report, 380007, RUN_TAG) == [(380005, T2, h["later"])]
    assert iovs(report, 379999, RUN_TAG) == [(379000, T1, h["old"])]
    assert iovs(report, 380000, LUMI_TAG) == [
        (lumi_since(380000, 1), T1, h["l_1"]),
        (lumi_since(380000, 50), T1, h["l_50"]),
    ]
    assert iovs(report, 380003, LUMI_TAG) == [(lumi_since(380001, 1), T2, h["l_next"])]
    assert iovs(report, 379999, LUMI_TAG) == [(lumi_since(379999, 10), T1, h["l_prev"])]
    (gt_map,) = [o.fact for o in report.observations if isinstance(o.fact, GlobalTagMap)]
    assert gt_map == GlobalTagMap("150X_dataRun3_Prompt_v1", tuple(sorted([RUN_TAG, LUMI_TAG])))
    lumi_fact = next(o for o in report.observations if isinstance(o.fact, IovSeen))
    assert lumi_fact.fact_time == lumi_fact.fact.insertion_time  # type: ignore[union-attr]
    assert "PAYLOAD_HASH" in lumi_fact.raw
    # TAG, one per tag, GLOBAL_TAG_MAP.
    assert report.requests == 4


async def test_query_count_does_not_grow_with_history(tmp_path: Path) -> None:
    db, _ = make_db(tmp_path)
    with sqlite3.connect(db.path) as connection:
        connection.executemany(
            "INSERT INTO IOV VALUES (?,?,?,?)",
            [(RUN_TAG, run, "2026-01-01 00:00:00", "h" * 40) for run in range(300000, 305000)],
        )
    connection.close()
    runs = {r: [workflow(RUN_TAG)] for r in range(380000, 380030)}
    spy = CondDbSpy(sqlite_readonly_url(db.path), clock=fixed_clock)
    report = await spy.poll(scope_for(runs))
    await spy.aclose()
    assert report.errors == []
    assert report.requests == 2
    assert len({o.fact.run for o in report.observations}) == 30  # type: ignore[union-attr]


async def test_insertion_time_spellings_and_a_bad_row(tmp_path: Path) -> None:
    db = CondDbFile(tmp_path / "c.db")
    db.tag(LUMI_TAG, "lumi")
    db.iov(LUMI_TAG, lumi_since(380000, 1), "2026-05-31 22:15:00", "a")
    db.iov(LUMI_TAG, lumi_since(380000, 2), "2026-05-31T22:15:00.250000Z", "b")
    db.iov(LUMI_TAG, lumi_since(380000, 3), "2026-05-31T23:15:00+01:00", "c")
    db.iov(LUMI_TAG, lumi_since(380000, 4), "yesterday", "d")
    spy = CondDbSpy(sqlite_readonly_url(db.path), clock=fixed_clock)
    report = await spy.poll(scope_for({380000: [workflow(LUMI_TAG, TimeType.LUMI)]}))
    await spy.aclose()
    times = [t for _, t, _ in iovs(report, 380000, LUMI_TAG)]
    assert times == [
        datetime(2026, 5, 31, 22, 15, tzinfo=UTC),
        datetime(2026, 5, 31, 22, 15, 0, 250000, tzinfo=UTC),
        datetime(2026, 5, 31, 22, 15, tzinfo=UTC),
    ]
    assert all(t.tzinfo is UTC for t in times)
    (error,) = report.errors
    assert "INSERTION_TIME" in error.message and "yesterday" in error.raw


async def test_locked_database_is_an_error_and_the_next_cycle_recovers(tmp_path: Path) -> None:
    db, _ = make_db(tmp_path)
    scope = scope_for({380000: [workflow(RUN_TAG)]}, gts=("150X_dataRun3_Prompt_v1",))
    spy = CondDbSpy(sqlite_readonly_url(db.path), clock=fixed_clock, connect_args={"timeout": 0.05})
    writer = sqlite3.connect(db.path, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    try:
        locked = await spy.poll(scope)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert locked.observations == []
    assert locked.errors and all("locked" in e.message for e in locked.errors)
    assert not any(e.permanent for e in locked.errors)
    recovered = await spy.poll(scope)
    await spy.aclose()
    assert recovered.errors == [] and len(recovered.observations) == 3


async def test_unreadable_database_is_an_error(tmp_path: Path) -> None:
    spy = CondDbSpy(sqlite_readonly_url(tmp_path / "missing.db"), clock=fixed_clock)
    report = await spy.poll(scope_for({380000: [workflow(RUN_TAG)]}))
    await spy.aclose()
    assert report.observations == [] and len(report.errors) == 1
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    spy = CondDbSpy(sqlite_readonly_url(garbage), clock=fixed_clock)
    report = await spy.poll(scope_for({380000: [workflow(RUN_TAG)]}))
    await spy.aclose()
    assert report.observations == [] and len(report.errors) == 1


async def test_schema_qualified_tables(tmp_path: Path) -> None:
    """Oracle's CMS_CONDITIONS schema, reproduced with an attached sqlite database."""
    db, h = make_db(tmp_path)
    engine = create_engine("sqlite://")

    @event.listens_for(engine, "connect")
    def attach(connection: Any, record: Any) -> None:
        connection.execute(f"ATTACH DATABASE '{db.path}' AS CMS_CONDITIONS")

    spy = CondDbSpy(engine=engine, schema="CMS_CONDITIONS", clock=fixed_clock)
    report = await spy.poll(scope_for({380007: [workflow(RUN_TAG)]}))
    engine.dispose()
    assert report.errors == []
    assert iovs(report, 380007, RUN_TAG) == [(380005, T2, h["later"])]


async def test_unknown_tag_gives_nothing_and_time_tags_are_refused(tmp_path: Path) -> None:
    db, _ = make_db(tmp_path)
    db.tag("SomeTimeTag", "Time")
    spy = CondDbSpy(sqlite_readonly_url(db.path), clock=fixed_clock)
    report = await spy.poll(scope_for({380000: [workflow("not_there"), workflow("SomeTimeTag")]}))
    await spy.aclose()
    assert report.observations == []
    (error,) = report.errors
    assert error.permanent and "SomeTimeTag" in error.message


# --- one candidate statement per tag, checked against the per-run definition -----------------


def _memory_database() -> tuple[Engine, CondDbTables]:
    # One shared in-memory connection: every example reuses the same tables.
    engine = create_engine("sqlite://", poolclass=StaticPool)
    with engine.connect() as connection:
        connection.connection.driver_connection.executescript(DDL)  # type: ignore[union-attr]
    return engine, conddb_tables()


MEMORY, MEMORY_TABLES = _memory_database()


def _sqlite_stamp(insertion: int) -> str:
    return f"2026-05-30 10:00:0{insertion}"


@settings(max_examples=150, deadline=None)
@given(iov_cases(TimeType.RUN))
def test_candidates_match_the_per_run_definition_for_run_tags(case: IovCase) -> None:
    with MEMORY.begin() as connection:
        check_case(connection, MEMORY_TABLES, RUN_TAG, case, _sqlite_stamp)


@settings(max_examples=150, deadline=None)
@given(iov_cases(TimeType.LUMI))
def test_candidates_match_the_per_run_definition_for_lumi_tags(case: IovCase) -> None:
    with MEMORY.begin() as connection:
        check_case(connection, MEMORY_TABLES, LUMI_TAG, case, _sqlite_stamp)


def test_candidate_table_cases() -> None:
    """The edges, by hand: lumisection 0 below the first lumisection, a gap, nothing below."""
    lumi = [
        # Lumisection 0 of the lowest run lies below its first since yet inside it.
        IovCase(TimeType.LUMI, ((lumi_since(5, 0), 0), (lumi_since(5, 1), 0)), (5,)),
        IovCase(TimeType.LUMI, ((lumi_since(3, 7), 0), (lumi_since(5, 0), 1)), (5, 6)),
        IovCase(TimeType.LUMI, ((lumi_since(9, 1), 0),), (4, 9)),  # nothing below run 4
    ]
    run = [
        IovCase(TimeType.RUN, ((2, 0), (2, 1), (4, 0), (8, 0)), (3, 9)),  # gap rows 4 and 8
        IovCase(TimeType.RUN, ((7, 0),), (1, 2)),  # nothing at or below any open run
        IovCase(TimeType.RUN, (), (1,)),
    ]
    with MEMORY.begin() as connection:
        for case in lumi:
            check_case(connection, MEMORY_TABLES, LUMI_TAG, case, _sqlite_stamp)
        for case in run:
            check_case(connection, MEMORY_TABLES, RUN_TAG, case, _sqlite_stamp)


async def test_one_statement_per_tag_however_many_runs(tmp_path: Path) -> None:
    db, h = make_db(tmp_path)
    runs = {
        r: [workflow(RUN_TAG), workflow(LUMI_TAG, TimeType.LUMI)] for r in range(379990, 380240)
    }
    spy = CondDbSpy(sqlite_readonly_url(db.path), clock=fixed_clock)
    report = await spy.poll(scope_for(runs))
    await spy.aclose()
    assert report.errors == []
    assert report.requests == 3  # TAG, one per tag (250 runs each)
    assert iovs(report, 380239, RUN_TAG) == [(380005, T2, h["later"])]
    assert iovs(report, 379990, RUN_TAG) == [(379000, T1, h["old"])]


async def test_a_bad_row_between_open_runs_covers_nothing_and_is_not_reported(
    tmp_path: Path,
) -> None:
    db = CondDbFile(tmp_path / "c.db")
    db.tag(RUN_TAG, "Run")
    db.iov(RUN_TAG, 380000, T1, "a")
    db.iov(RUN_TAG, 380002, "not a time", "bad")  # read as a candidate, covers no open run
    db.iov(RUN_TAG, 380004, T1, "c")
    spy = CondDbSpy(sqlite_readonly_url(db.path), clock=fixed_clock)
    scope = scope_for({380000: [workflow(RUN_TAG)], 380005: [workflow(RUN_TAG)]})
    report = await spy.poll(scope)
    assert report.errors == []
    assert [s for s, _, _ in iovs(report, 380005, RUN_TAG)] == [380004]
    # Once it covers an open run it is reported, at every poll (bad rows are never kept).
    scope = scope_for({380000: [workflow(RUN_TAG)], 380003: [workflow(RUN_TAG)]})
    for _ in range(2):
        report = await spy.poll(scope)
        (error,) = report.errors
        assert "INSERTION_TIME" in error.message and error.permanent
    await spy.aclose()


# --- one pooled connection across polls, never on a file the path no longer names ----------


@contextmanager
def counting_connects() -> Iterator[list[object]]:
    opened: list[object] = []

    def count(connection: object, record: object) -> None:
        opened.append(connection)

    event.listen(Pool, "connect", count)
    try:
        yield opened
    finally:
        event.remove(Pool, "connect", count)


async def test_polls_share_one_connection(tmp_path: Path) -> None:
    db, _ = make_db(tmp_path)
    scope = scope_for({380000: [workflow(RUN_TAG)]}, gts=("150X_dataRun3_Prompt_v1",))
    spy = CondDbSpy(f"sqlite:///{db.path}", clock=fixed_clock)
    with counting_connects() as opened:
        for _ in range(3):
            report = await spy.poll(scope)
            assert report.errors == [] and len(report.observations) == 3
    await spy.aclose()
    assert len(opened) == 1


async def test_a_replaced_file_is_read_afresh(tmp_path: Path) -> None:
    db, h = make_db(tmp_path)
    scope = scope_for({380007: [workflow(RUN_TAG)]})
    spy = CondDbSpy(sqlite_readonly_url(db.path), clock=fixed_clock)
    assert iovs(await spy.poll(scope), 380007, RUN_TAG) == [(380005, T2, h["later"])]
    # A newer copy swapped in: the pooled connection must not keep reading the old file.
    newer = CondDbFile(tmp_path / "newer.db")
    newer.tag(RUN_TAG, "Run")
    fresh = newer.iov(RUN_TAG, 380006, T2, "fresh")
    os.replace(newer.path, db.path)
    assert iovs(await spy.poll(scope), 380007, RUN_TAG) == [(380006, T2, fresh)]
    # Garbage swapped in: an error, then the file back: read again.
    os.replace(db.path, tmp_path / "kept.db")
    db.path.write_bytes(b"this is not a database" * 100)
    broken = await spy.poll(scope)
    assert broken.observations == [] and broken.errors
    os.replace(tmp_path / "kept.db", db.path)
    recovered = await spy.poll(scope)
    await spy.aclose()
    assert recovered.errors == []
    assert iovs(recovered, 380007, RUN_TAG) == [(380006, T2, fresh)]


def test_sqlite_file_of_urls(tmp_path: Path) -> None:
    path = tmp_path / "with space" / "c.db"
    assert sqlite_file_of(make_url(sqlite_readonly_url(path))) == path.resolve()
    assert sqlite_file_of(make_url(f"sqlite:///{path}")) == path
    assert sqlite_file_of(make_url("sqlite://")) is None
    assert sqlite_file_of(make_url("sqlite:///:memory:")) is None
    assert sqlite_file_of(make_url("postgresql+psycopg://u@h/cond")) is None
