from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event

from spyagency.domain.facts import GlobalTagMap, IovSeen
from spyagency.domain.iov import TimeType, lumi_since
from spyagency.domain.states import Source
from spyagency.spies.conddb import CondDbSpy, sqlite_readonly_url
from spyagency.spies.scope import PollScope, RunScope, WorkflowScope
from tests.spies.condb_files import CondDbFile
from tests.spies.fakes import NOW, fixed_clock

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
