"""The read API: runs, one run, its timeline and events, conditional GETs, bad input.

Runs on both backends (``store_url``): the queries behind the API are the store's."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.domain.world import T0, Story, judge
from tests.web.api_world import (
    BLOCKED,
    MISSED,
    PENDING,
    READY,
    RELEASED,
    World,
    client_for,
    make_world,
    stories,
)


@pytest.fixture
def world(store_url: str) -> Iterator[World]:
    world = make_world(store_url)
    yield world
    world.store.dispose()


async def test_runs_are_listed_newest_first_with_filters(world: World) -> None:
    async with client_for(world.services) as client:
        everything = (await client.get("/api/v1/runs")).json()
        ready = (await client.get("/api/v1/runs", params={"verdict": "ready"})).json()
        ranged = await client.get("/api/v1/runs", params={"run_min": MISSED, "run_max": READY})
    assert [item["run"] for item in everything["items"]] == [
        PENDING,
        BLOCKED,
        READY,
        MISSED,
        RELEASED,
    ]
    assert everything["next_before_run"] is None
    assert [item["run"] for item in ready["items"]] == [READY]
    assert [item["run"] for item in ranged.json()["items"]] == [READY, MISSED]


async def test_keyset_pagination_walks_every_run_once(world: World) -> None:
    seen: list[int] = []
    cursor: int | None = None
    async with client_for(world.services) as client:
        while True:
            params = {"limit": 2} | ({"before_run": cursor} if cursor else {})
            page = (await client.get("/api/v1/runs", params=params)).json()
            seen.extend(item["run"] for item in page["items"])
            cursor = page["next_before_run"]
            if cursor is None:
                break
    assert seen == [PENDING, BLOCKED, READY, MISSED, RELEASED]


async def test_one_run_shows_its_verdict_workflows_and_proof(world: World) -> None:
    async with client_for(world.services) as client:
        answer = await client.get(f"/api/v1/runs/{READY}")
    body = answer.json()
    assert answer.status_code == 200
    assert body["verdict"] == "ready" and body["automatic_verdict"] == "ready"
    assert body["stop"] == "2026-06-01T10:00:00Z"
    gains = next(w for w in body["workflows"] if w["workflow"] == "SiStripGains")
    assert gains["state"] == "in_db" and gains["counted"] is True
    assert gains["proven_at"] is not None and gains["evidence"]
    assert {"state_since", "deadline", "optional", "ignored_by"} <= set(gains)
    assert body["overrides"] == [] and body["override_history"] == []


async def test_unknown_runs_are_404_with_a_detail(world: World) -> None:
    async with client_for(world.services) as client:
        for path in ("/api/v1/runs/999999", "/api/v1/runs/999999/timeline"):
            answer = await client.get(path)
            assert answer.status_code == 404
            assert "999999" in answer.json()["detail"]
        assert (await client.get("/api/v1/runs/999999/events")).status_code == 404


async def test_etags_answer_304_until_the_run_changes(world: World) -> None:
    async with client_for(world.services) as client:
        first = await client.get(f"/api/v1/runs/{READY}")
        etag = first.headers["etag"]
        again = await client.get(f"/api/v1/runs/{READY}", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.headers["etag"] == etag
        listing = await client.get("/api/v1/runs")
        cached = await client.get(
            "/api/v1/runs", headers={"If-None-Match": listing.headers["etag"]}
        )
        assert cached.status_code == 304
        other = await client.get("/api/v1/runs", params={"limit": 1})
        assert other.headers["etag"] != listing.headers["etag"]
        # An override changes what the run shows: the ETag must change with it.
        created = await client.post(
            "/api/v1/overrides",
            json={"kind": "hold", "run": READY, "why": "check", "expires_in_hours": 2},
            headers=world.auth(max(world.tokens)),
        )
        assert created.status_code == 201, created.text
        after = await client.get(f"/api/v1/runs/{READY}", headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["etag"] != etag
    assert [o["kind"] for o in after.json()["overrides"]] == ["hold"]


async def test_timeline_and_events_are_in_order(world: World) -> None:
    async with client_for(world.services) as client:
        timeline = (await client.get(f"/api/v1/runs/{READY}/timeline")).json()
        events = (await client.get(f"/api/v1/runs/{READY}/events")).json()
    observed = [entry["observed_at"] for entry in timeline]
    assert observed == sorted(observed)
    assert timeline[0]["kind"] == "run_info" and timeline[0]["fact"]["run"] == READY
    assert {"source", "fact_time", "raw", "raw_truncated"} <= set(timeline[0])
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert events[0]["kind"] == "verdict" and events[0]["new"] == "ready"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/runs?limit=0",
        "/api/v1/runs?limit=501",
        "/api/v1/runs?verdict=maybe",
        "/api/v1/runs?run_min=-1",
        "/api/v1/runs?before_run=abc",
        "/api/v1/runs?run_max=99999999999999999999999",
        "/api/v1/runs/0",
        "/api/v1/runs/notanumber",
        "/api/v1/runs/99999999999999999999999999",
        "/api/v1/readiness?after_run=-5",
        "/api/v1/audit?before_id=0",
        "/api/v1/alerts?limit=100000",
    ],
)
async def test_bad_input_is_a_422_with_a_detail(world: World, path: str) -> None:
    async with client_for(world.services) as client:
        answer = await client.get(path)
    assert answer.status_code == 422
    assert "detail" in answer.json()


async def test_the_queue_names_the_run_the_ready_runs_wait_for(tmp_path: Path) -> None:
    """READY waits for nothing below it; the head is BLOCKED, which holds no ready run yet.
    A hold placed on READY makes it the head, holding nothing either."""
    world = make_world(f"sqlite:///{tmp_path / 'agency.db'}")
    try:
        async with client_for(world.services) as client:
            queue = (await client.get("/api/v1/queue")).json()
            readiness = (await client.get("/api/v1/readiness")).json()
    finally:
        world.store.dispose()
    assert queue["head"]["run"] == BLOCKED and queue["head"]["verdict"] == "blocked"
    assert queue["head"]["reasons"]
    assert queue["held_runs"] == [] and queue["holding_since"] is None
    assert readiness["held_by"] is None


async def test_a_ready_run_above_the_head_is_held_by_it(tmp_path: Path) -> None:
    world = make_world(f"sqlite:///{tmp_path / 'agency.db'}")
    ready, hours = stories()[READY]
    later = Story(run=BLOCKED + 5, observations=[])
    later.observations = [
        dataclasses.replace(o, fact=dataclasses.replace(o.fact, run=later.run))
        if getattr(o.fact, "run", None) == READY
        else o
        for o in ready.observations
    ]
    became_ready = T0 + timedelta(hours=hours)
    with world.store.transaction() as tx:
        tx.states.save_run(judge(later, hours), became_ready)
    try:
        async with client_for(world.services) as client:
            queue = (await client.get("/api/v1/queue")).json()
            readiness = (await client.get("/api/v1/readiness")).json()
    finally:
        world.store.dispose()
    assert queue["head"]["run"] == BLOCKED
    assert queue["held_runs"] == [later.run] and queue["holding_since"] is not None
    assert readiness["held_by"] == BLOCKED
