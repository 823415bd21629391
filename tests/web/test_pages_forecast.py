"""The forecast on the pages: its score on the KPI page (ADR 11)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from spyagency.domain.forecast import Forecast
from spyagency.domain.forecast_score import Horizon
from tests.web.page_world import (
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
