"""The forecast on the pages (ADR 11): beside the lock-in on the dashboard and the run page,
only when calibrated, and its score on the KPI page."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from spyagency.domain.forecast import Forecast
from spyagency.domain.forecast_score import Horizon
from tests.web.page_world import (
    NOW,
    PENDING,
    RELEASED,
    World,
    client_for,
    make_world,
    pages_app,
    text_between,
)

HOUR = timedelta(hours=1)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


async def test_the_kpi_page_shows_how_the_kept_forecasts_fared(world: World) -> None:
    async with client_for(pages_app(world.services)) as client:
        before = await client.get("/kpi")
    assert "No final run has a kept forecast yet." in before.text
    assert "not scored yet" in text_between(before.text, 'id="forecast-calibration"', "</strong>")
    with world.store.read() as tx:
        record = tx.states.get_run(RELEASED)
    assert record is not None and record.assessment.proof_complete_at is not None
    actual = record.assessment.proof_complete_at
    inside = Forecast(
        RELEASED, actual - 5 * HOUR, median=actual + HOUR, low=actual - HOUR, high=actual + 2 * HOUR
    )
    with world.store.transaction() as tx:
        tx.forecasts.keep(inside, Horizon.STOP)
    async with client_for(pages_app(world.services)) as client:
        after = await client.get("/kpi")
    table = text_between(after.text, 'id="forecast-score"', "</table>")
    total = text_between(table, '<tr class="total">', "</tr>")
    assert "all weeks" in total and "run stop" in total
    assert "<td>1</td><td>1.00</td><td>100 %</td><td>unscored</td>" in total


def calibrate(world: World, runs: int = 20, inside: int = 16) -> None:
    """``runs`` released runs like RELEASED, each with a kept forecast at its stop: the first
    ``inside`` caught the proof in their 80% interval, so 80% coverage: calibrated."""
    with world.store.read() as tx:
        record = tx.states.get_run(RELEASED)
    assert record is not None and record.assessment.proof_complete_at is not None
    actual = record.assessment.proof_complete_at
    with world.store.transaction() as tx:
        for index in range(runs):
            run = RELEASED - 1000 - index
            tx.states.save_run(dataclasses.replace(record.assessment, run=run), NOW)
            shift = timedelta(0) if index < inside else 5 * HOUR
            kept = Forecast(
                run,
                actual - 5 * HOUR,
                median=actual + shift,
                low=actual - HOUR + shift,
                high=actual + HOUR + shift,
            )
            tx.forecasts.keep(kept, Horizon.STOP)


def forecast_pending(world: World, late: bool = False) -> None:
    """PENDING forecast two hours after its stop, when its lock-in is far ahead; ``late``:
    the interval ends after the lock-in."""
    with world.store.read() as tx:
        record = tx.states.get_run(PENDING)
    assert record is not None and record.assessment.lock_in_at is not None
    assert record.assessment.stop is not None
    now = record.assessment.stop + 2 * HOUR
    world.clock.set(now)
    lock_in = record.assessment.lock_in_at
    high = lock_in + HOUR if late else now + 4 * HOUR
    with world.store.transaction() as tx:
        tx.forecasts.save_latest(
            Forecast(
                PENDING,
                now - timedelta(minutes=10),
                median=now + 2 * HOUR + 10 * timedelta(minutes=1),
                low=now + HOUR + 40 * timedelta(minutes=1),
                high=high,
                samples=30,
                failure_chance=0.1,
            )
        )


async def test_a_calibrated_forecast_shows_beside_the_lock_in(world: World) -> None:
    calibrate(world)
    forecast_pending(world)
    app = pages_app(world.services)
    async with client_for(app) as client:
        page = await client.get(f"/runs/{PENDING}")
        dashboard = await client.get("/")
        row = await client.get(f"/fragments/runs/{PENDING}/row")
        released = await client.get(f"/runs/{RELEASED}")
    said = text_between(page.text, '<dd class="forecast-detail">', "</dd>")
    assert "in about 2h 10m</time>, 80%: 1h 40m \u2013 4h 00m" in said
    assert "10% chance one does" in said and "after the lock-in" not in said
    for html in (text_between(dashboard.text, f'id="run-{PENDING}"', "</tr>"), row.text):
        cell = text_between(html, '<td class="lockin">', "</td>")
        assert 'class="forecast"' in cell and "data-eta=" in cell
    assert "forecast-detail" not in released.text  # a final run has nothing to forecast


async def test_a_forecast_past_the_lock_in_is_a_warning(world: World) -> None:
    calibrate(world)
    forecast_pending(world, late=True)
    async with client_for(pages_app(world.services)) as client:
        page = await client.get(f"/runs/{PENDING}")
        dashboard = await client.get("/")
    assert "the 80% interval ends after the lock-in" in page.text
    row = text_between(dashboard.text, f'id="run-{PENDING}"', "</tr>")
    assert "forecast forecast-late" in row


@pytest.mark.parametrize(("inside", "said"), [(16, None), (8, "not calibrated")])
async def test_an_uncalibrated_forecast_is_not_shown_as_one(
    world: World, inside: int, said: str | None
) -> None:
    calibrate(world, inside=inside)
    forecast_pending(world)
    async with client_for(pages_app(world.services)) as client:
        page = await client.get(f"/runs/{PENDING}")
        dashboard = await client.get("/")
    detail = text_between(page.text, '<dd class="forecast-detail">', "</dd>")
    row = text_between(dashboard.text, f'id="run-{PENDING}"', "</tr>")
    if said is None:
        assert "80%:" in detail and 'class="forecast"' in row
    else:
        assert said in detail and "80%:" not in detail
        assert 'class="forecast' not in row


async def test_a_new_forecast_reaches_a_cached_dashboard(world: World) -> None:
    calibrate(world)
    app = pages_app(world.services)
    async with client_for(app) as client:
        before = await client.get("/")
        forecast_pending(world)
        # The engine announces every batch, the forecasts' included; the run's own state
        # did not change, so only the forecasts' mark can tell the cached rows are old.
        await world.services.changes.notify()
        after = await client.get("/")
    assert 'class="forecast' not in text_between(before.text, f'id="run-{PENDING}"', "</tr>")
    assert 'class="forecast"' in text_between(after.text, f'id="run-{PENDING}"', "</tr>")
