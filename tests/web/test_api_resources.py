"""Readiness (the Tier-0 contract), workflows, sources, alerts, KPIs, health probes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from spyagency.domain.states import Verdict
from tests.web.api_world import BLOCKED, READY, RELEASED, World, client_for, make_world, moment


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    world = make_world(f"sqlite:///{tmp_path / 'agency.db'}")
    yield world
    world.store.dispose()


async def test_readiness_lists_only_runs_announced_and_still_ready(world: World) -> None:
    async with client_for(world.services) as client:
        answer = (await client.get("/api/v1/readiness")).json()
        later = (await client.get("/api/v1/readiness", params={"after_run": READY})).json()
    assert answer["api_version"] == "1"
    assert answer["generated_at"] == "2026-06-03T20:00:00Z"
    assert answer["signals"] == [
        {
            "run": READY,
            "verdict": "ready",
            "idempotency_key": f"run-{READY}-ready-1",
            "decided_at": "2026-06-01T14:00:00Z",
            "evidence_url": f"https://agency.example/api/v1/runs/{READY}",
        }
    ]
    assert answer["signals_enabled"] is True and answer["dry_run"] is False
    assert later["signals"] == []


async def test_readiness_is_in_run_order_and_drops_runs_no_longer_ready(world: World) -> None:
    with world.store.transaction() as tx:
        record = tx.states.get_run(BLOCKED)
        assert record is not None
        # BLOCKED is now ready again, and announced again.
        tx.states.save_run(replace(record.assessment, verdict=Verdict.READY), moment(7))
        tx.signals.record(BLOCKED, Verdict.READY, f"run-{BLOCKED}-ready-3", moment(7), {})
    async with client_for(world.services) as client:
        runs = [s["run"] for s in (await client.get("/api/v1/readiness")).json()["signals"]]
    assert runs == [READY, BLOCKED]


async def test_the_kill_switch_empties_the_readiness_list(world: World) -> None:
    with world.store.transaction() as tx:
        tx.controls.set("signals_enabled", False, "expert", moment(7), "CondDB migration")
    async with client_for(world.services) as client:
        answer = (await client.get("/api/v1/readiness")).json()
    assert answer["signals"] == [] and answer["signals_enabled"] is False


async def test_configured_off_or_dry_run_is_reported(world: World) -> None:
    world.services.signals_configured = False
    world.services.dry_run = True
    async with client_for(world.services) as client:
        answer = (await client.get("/api/v1/readiness")).json()
    assert answer["signals"] == [] and answer["signals_enabled"] is False
    assert answer["dry_run"] is True


async def test_sources_show_errors_raw_text_and_staleness(world: World) -> None:
    async with client_for(world.services) as client:
        sources = {s["source"]: s for s in (await client.get("/api/v1/sources")).json()}
    assert set(sources) == {"tier0", "oms", "harvest", "conddb", "upload_log", "dqm", "wmstats"}
    dqm = sources["dqm"]
    assert dqm["stale"] is True and dqm["consecutive_failures"] == 4
    assert dqm["last_error"] == "HTTP 502" and dqm["last_error_raw"] == "<html>bad gateway</html>"
    assert dqm["critical"] is False and dqm["stale_after_minutes"] == 60
    assert sources["conddb"]["stale"] is False and sources["conddb"]["critical"] is True


async def test_workflows_and_their_history(world: World) -> None:
    async with client_for(world.services) as client:
        workflows = {w["workflow"]: w for w in (await client.get("/api/v1/workflows")).json()}
        history = await client.get("/api/v1/workflows/SiStripGains/history", params={"limit": 2})
        rest = await client.get(
            "/api/v1/workflows/SiStripGains/history",
            params={"before_run": history.json()["next_before_run"]},
        )
        unknown = await client.get("/api/v1/workflows/NoSuchWorkflow/history")
    assert workflows["SiStripGains"]["runs_by_state"] == {"in_db": 5}
    assert workflows["SiStripQuality"]["open_runs_by_state"]["upload_failed"] == 1
    items = history.json()["items"] + rest.json()["items"]
    assert [i["run"] for i in items] == sorted((i["run"] for i in items), reverse=True)
    assert len(items) == 5 and rest.json()["next_before_run"] is None
    first = items[0]
    assert first["run_stop"] == "2026-06-01T10:00:00Z"
    assert first["upload_hours"] == pytest.approx(2.1)
    assert unknown.status_code == 404


async def test_alerts_open_and_history(world: World) -> None:
    async with client_for(world.services) as client:
        alerts = (await client.get("/api/v1/alerts")).json()
        page = (await client.get("/api/v1/alerts", params={"limit": 1})).json()
    assert [a["run"] for a in alerts["open"]] == [BLOCKED]
    assert [a["is_open"] for a in alerts["history"]] == [False, True]
    assert len(page["history"]) == 1 and page["next_before_id"] == page["history"][0]["id"]


async def test_kpi_release_latency_early_and_missed(world: World) -> None:
    async with client_for(world.services) as client:
        kpi = (await client.get("/api/v1/kpi")).json()
    assert kpi["released"] == [
        {
            "run": RELEASED,
            "stop": "2026-06-01T10:00:00Z",
            "released_at": "2026-06-03T09:00:00Z",
            "hours": 47.0,
            "early": True,
        }
    ]
    assert kpi["early"] == 1 and kpi["on_timer"] == 0
    assert kpi["release_hours"] == {"count": 1, "median_hours": 47.0, "p90_hours": 47.0}
    assert kpi["missed_per_month"] == [{"month": "2026-06", "missed": 1}]


async def test_health_probes_and_security_headers(world: World) -> None:
    now = datetime.now(UTC)
    with world.store.transaction() as tx:
        tx.leader.try_acquire("engine", "engine-host:42:abc", now, timedelta(seconds=10))
    async with client_for(world.services) as client:
        alive = await client.get("/healthz")
        ready = await client.get("/readyz")
        openapi = await client.get("/openapi.json")
    assert alive.json() == {"status": "ok", "version": "test"}
    shown = ready.json()
    assert shown["status"] == "ok" and shown["database"] is True and shown["leader_epoch"] == 1
    # The leader as an opaque id: no host or pid to an anonymous probe.
    assert "engine-host" not in ready.text and "42" not in shown["leader"]
    assert len(shown["leader"]) == 12
    for answer in (alive, ready, openapi):
        policy = answer.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"]
    assert openapi.json()["info"]["title"] == "Spy-Agency"
    assert "/api/v1/readiness" in openapi.json()["paths"]


async def test_readyz_is_unready_without_a_live_leader(world: World) -> None:
    async with client_for(world.services) as client:
        never = await client.get("/readyz")
        with world.store.transaction() as tx:
            long_ago = datetime.now(UTC) - timedelta(minutes=5)
            tx.leader.try_acquire("engine", "gone:1:x", long_ago, timedelta(seconds=10))
        stale = await client.get("/readyz")
    for answer in (never, stale):
        assert answer.status_code == 503
        assert answer.json()["status"] == "no_leader" and answer.json()["database"] is True


async def test_readyz_reports_an_unreachable_database(tmp_path: Path) -> None:
    world = make_world(f"sqlite:///{tmp_path / 'agency.db'}", seeded=False)
    world.store.dispose()
    (tmp_path / "agency.db").unlink()
    (tmp_path / "agency.db").mkdir()  # a directory where the database file was
    try:
        async with client_for(world.services) as client:
            answer = await client.get("/readyz")
    finally:
        world.store.dispose()
    assert answer.status_code == 503 and answer.json()["database"] is False
