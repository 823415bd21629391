"""The plots' API: each answer holds the numbers its plot draws, computed from what is stored.

Runs on both backends (``store_url``): the queries behind the answers are the store's."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from spyagency.domain.health import SourceHealth
from spyagency.domain.lifecycle import WorkflowAssessment
from spyagency.domain.states import Source, Verdict, WorkflowState
from spyagency.domain.verdict import RunAssessment
from tests.web.api_world import World, client_for, make_world

STOP = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)  # a Monday
NOW = STOP + timedelta(days=10)
IN_DB, HARVESTING = WorkflowState.IN_DB, WorkflowState.HARVESTING


def hours(value: float) -> datetime:
    return STOP + timedelta(hours=value)


def run(
    number: int,
    verdict: Verdict,
    stop: datetime = STOP,
    released_after: float | None = None,
    **proven_after: float | None,
) -> RunAssessment:
    """A run whose workflows were proven ``proven_after`` hours after ``stop`` (None: not
    yet: harvesting)."""
    workflows = tuple(
        WorkflowAssessment(
            workflow=name,
            state=IN_DB if after is not None else HARVESTING,
            proven_at=stop + timedelta(hours=after) if after is not None else None,
        )
        for name, after in proven_after.items()
    )
    released = stop + timedelta(hours=released_after) if released_after is not None else None
    return RunAssessment(
        run=number,
        verdict=verdict,
        automatic_verdict=verdict,
        reasons=("test",),
        workflows=workflows,
        stop=stop,
        lock_in_at=stop + timedelta(hours=47.5),
        released_at=released,
    )


@pytest.fixture
def world(store_url: str) -> Iterator[World]:
    world = make_world(store_url, seeded=False)
    world.clock.set(NOW)
    yield world
    world.store.dispose()


def save(world: World, at: datetime, *assessments: RunAssessment) -> None:
    with world.store.transaction() as tx:
        for item in assessments:
            tx.states.save_run(item, at)


async def test_the_state_bars_follow_each_workflow_through_its_states(world: World) -> None:
    first = run(1, Verdict.PENDING, Gains=None, Pixel=None)
    save(world, hours(1), first)
    save(
        world,
        hours(3),
        dataclasses.replace(
            first,
            workflows=(
                WorkflowAssessment("Gains", IN_DB, proven_at=hours(2.5)),
                WorkflowAssessment("Pixel", WorkflowState.NOT_EXPECTED),
            ),
        ),
    )
    world.clock.set(hours(5))
    async with client_for(world.services) as client:
        answer = (await client.get("/api/v1/runs/1/state-bars")).json()
        unknown = await client.get("/api/v1/runs/2/state-bars")
    assert unknown.status_code == 404
    assert answer["stop"] == "2026-06-01T08:00:00Z"
    assert answer["harvest_deadline"] == "2026-06-01T20:00:00Z"  # stop + 12 h
    assert answer["upload_deadline"] == "2026-06-02T02:00:00Z"  # stop + 18 h
    assert answer["lock_in"] == "2026-06-03T07:30:00Z"
    assert answer["now"] == answer["end"] == "2026-06-01T13:00:00Z"
    assert answer["workflows"] == ["Gains", "Pixel"]
    bars = [(b["workflow"], b["state"], b["start"][11:16], b["end"][11:16]) for b in answer["bars"]]
    # Pixel's not_expected stretch is left out: it only says nothing is expected.
    assert bars == [
        ("Gains", "harvesting", "09:00", "11:00"),
        ("Gains", "in_db", "11:00", "13:00"),
        ("Pixel", "harvesting", "09:00", "11:00"),
    ]


async def test_a_final_run_s_bars_end_when_it_was_released(world: World) -> None:
    save(world, hours(1), run(1, Verdict.PENDING, Gains=None))
    save(world, hours(40), run(1, Verdict.RELEASED, released_after=40, Gains=2))
    async with client_for(world.services) as client:
        answer = (await client.get("/api/v1/runs/1/state-bars")).json()
    assert answer["end"] == "2026-06-03T00:00:00Z"
    assert [b["end"] for b in answer["bars"]][-1] == answer["end"]


async def test_the_release_histogram_and_weeks_count_every_released_run(world: World) -> None:
    delays = [1.7, 2.1, 2.6, 3.0, 3.4, 48.0]
    stopped_days = [0, 1, 2, 3, 4, 7]
    save(
        world,
        NOW,
        *(
            run(10 + i, Verdict.RELEASED, stop=STOP + timedelta(days=day), released_after=delay)
            for i, (day, delay) in enumerate(zip(stopped_days, delays, strict=True))
        ),
        run(30, Verdict.PENDING, Gains=None),  # not released: not counted
        run(31, Verdict.RELEASED, stop=STOP - timedelta(days=40), released_after=5),
    )
    async with client_for(world.services) as client:
        histogram = (await client.get("/api/v1/kpi/release-histogram?days=30")).json()
        weeks = (await client.get("/api/v1/kpi/releases-per-week?days=30")).json()
        everything = (await client.get("/api/v1/kpi/release-histogram")).json()
    assert histogram["released"] == sum(histogram["counts"]) == 6
    assert histogram["timer_hours"] == 48.0
    edges = histogram["edges_hours"]
    assert edges[0] <= 1.7 and edges[-1] > 48.0
    assert len(edges) == len(histogram["counts"]) + 1
    assert everything["released"] == 7
    # 1 June is a Monday: the first five runs stopped that week, the sixth the next Monday.
    assert weeks["weeks"] == [
        {
            "week_start": "2026-06-01",
            "released": 5,
            "early": 5,
            "median_hours": 2.6,
            "max_hours": 3.4,
        },
        {
            "week_start": "2026-06-08",
            "released": 1,
            "early": 0,
            "median_hours": 48.0,
            "max_hours": 48.0,
        },
    ]


async def test_proof_latency_is_boxed_per_workflow(world: World) -> None:
    save(
        world,
        NOW,
        *(run(20 + i, Verdict.PENDING, Gains=float(i + 1), Pixel=None) for i in range(5)),
    )
    async with client_for(world.services) as client:
        answer = (await client.get("/api/v1/kpi/proof-latency")).json()
    assert answer["workflows"] == [
        {
            "workflow": "Gains",
            "count": 5,
            "min_hours": 1.0,
            "q1_hours": 2.0,
            "median_hours": 3.0,
            "q3_hours": 4.0,
            "max_hours": 5.0,
        }
    ]


async def test_source_history_counts_polls_per_hour_over_the_last_days(world: World) -> None:
    ok = SourceHealth(Source.TIER0, last_success=NOW, last_attempt=NOW)
    failed = SourceHealth(
        Source.OMS,
        last_attempt=NOW - timedelta(minutes=50),
        last_error="HTTP 502",
        last_error_at=NOW - timedelta(minutes=50),
        consecutive_failures=1,
    )
    with world.store.transaction() as tx:
        tx.health.record(ok)
        tx.health.record(ok)
        tx.health.record(failed)
    async with client_for(world.services) as client:
        answer = (await client.get("/api/v1/sources/history?days=2")).json()
        too_long = await client.get("/api/v1/sources/history?days=15")
    assert too_long.status_code == 422
    assert len(answer["hours"]) == 48
    assert answer["hours"][-1] == "2026-06-11T08:00:00Z"
    by_source = {item["source"]: item for item in answer["sources"]}
    assert set(by_source) == {source.value for source in Source}
    assert by_source["tier0"]["successes"][-1] == 2
    assert by_source["oms"]["failures"][-2] == 1
    assert sum(by_source["oms"]["successes"]) == 0
    assert sum(sum(item["failures"]) for item in answer["sources"]) == 1
