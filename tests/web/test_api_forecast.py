"""The forecast in the API: a run's latest forecast in hours from now, and its score."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from spyagency.domain.forecast import Forecast, WorkflowForecast
from spyagency.domain.forecast_score import Horizon
from tests.web.api_world import PENDING, RELEASED, World, client_for, make_world

HOUR = timedelta(hours=1)


@pytest.fixture
def world(store_url: str) -> Iterator[World]:
    world = make_world(store_url)
    yield world
    world.store.dispose()


async def test_an_open_run_shows_its_latest_forecast_beside_its_lock_in(world: World) -> None:
    now = world.clock.now()
    forecast = Forecast(
        PENDING,
        now - HOUR,
        median=now + 2 * HOUR,
        low=now + HOUR,
        high=now + 4 * HOUR,
        samples=42,
        failure_chance=0.05,
        workflows=(
            WorkflowForecast("SiStripGains", now + 2 * HOUR, now + HOUR, now + 4 * HOUR, 42, 0.05),
        ),
    )
    with world.store.transaction() as tx:
        tx.forecasts.save_latest(forecast)
    async with client_for(world.services) as client:
        first = await client.get(f"/api/v1/runs/{PENDING}")
        body = first.json()["forecast"]
        world.clock.advance(timedelta(minutes=30))
        later = await client.get(
            f"/api/v1/runs/{PENDING}", headers={"If-None-Match": first.headers["ETag"]}
        )
    assert body["known"] is True and body["reason"] is None
    assert (body["low_hours_from_now"], body["median_hours_from_now"]) == (1.0, 2.0)
    assert body["high_hours_from_now"] == 4.0
    assert body["samples"] == 42 and body["failure_chance"] == 0.05
    assert [w["workflow"] for w in body["workflows"]] == ["SiStripGains"]
    # No final run was scored yet: shown, but not as a calibrated forecast.
    assert body["calibration"] == "unscored" and body["show_as_forecast"] is False
    # Time moved the hours from now: the page is not the one the client holds.
    assert later.status_code == 200
    assert later.json()["forecast"]["median_hours_from_now"] == 1.5


async def test_a_final_run_has_no_forecast_and_says_why(world: World) -> None:
    async with client_for(world.services) as client:
        body = (await client.get(f"/api/v1/runs/{RELEASED}")).json()["forecast"]
    assert body["known"] is False and body["reason"] == "the run is final"
    assert body["median"] is None and body["late"] is False


async def test_the_kpi_scores_kept_forecasts_of_released_runs(world: World) -> None:
    with world.store.read() as tx:
        record = tx.states.get_run(RELEASED)
    assert record is not None and record.assessment.proof_complete_at is not None
    actual = record.assessment.proof_complete_at
    inside = Forecast(
        RELEASED, actual - 5 * HOUR, median=actual + HOUR, low=actual - HOUR, high=actual + 2 * HOUR
    )
    outside = Forecast(
        RELEASED,
        actual - 4 * HOUR,
        median=actual - 3 * HOUR,
        low=actual - 4 * HOUR,
        high=actual - 2 * HOUR,
    )
    with world.store.transaction() as tx:
        tx.forecasts.keep(inside, Horizon.STOP)
        tx.forecasts.keep(outside, Horizon.ONE_HOUR)
        tx.forecasts.keep(Forecast(PENDING, actual, reason="too little history"), Horizon.STOP)
    async with client_for(world.services) as client:
        score = (await client.get("/api/v1/kpi")).json()["forecast_score"]
    overall = {row["horizon"]: row for row in score["overall"]}
    assert overall["stop"]["count"] == 1 and overall["stop"]["coverage"] == 1.0
    assert overall["stop"]["median_abs_error_hours"] == 1.0
    assert overall["1h"]["coverage"] == 0.0 and overall["1h"]["median_abs_error_hours"] == 3.0
    assert overall["6h"]["count"] == 0 and overall["6h"]["coverage"] is None
    assert {row["horizon"] for row in score["weeks"]} == {"stop", "1h"}
    assert score["calibration"] == "unscored"
