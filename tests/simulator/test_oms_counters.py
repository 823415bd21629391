"""While a run goes on, only OMS's running counters move: a reader of the rest (the OMS spy
reads no counter) sees no change until the run ends, and then sees its end.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx2

from spyagency.simulator import build_app
from spyagency.simulator.clock import ManualClock
from spyagency.simulator.scenario import load_scenario
from spyagency.simulator.world import OMS_COUNTERS, World
from spyagency.spies.oms_rows import parse_run
from tests.simulator.conftest import without_faults


async def _oms_runs(app: Any) -> list[dict[str, Any]]:
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://simulator") as client:
        answer = await client.get("/agg/api/v1/runs")
        answer.raise_for_status()
        rows: list[dict[str, Any]] = answer.json()["data"]
        return rows


def _fixed(rows: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The served rows without the running counters."""
    return [
        (row["id"], {k: v for k, v in row["attributes"].items() if k not in OMS_COUNTERS})
        for row in rows
    ]


def _row(rows: list[dict[str, Any]], number: int) -> dict[str, Any]:
    return next(row for row in rows if row["id"] == str(number))


def _run(rows: list[dict[str, Any]], number: int) -> dict[str, Any]:
    attributes: dict[str, Any] = _row(rows, number)["attributes"]
    return attributes


def test_a_running_run_changes_only_its_counters(tmp_path: Path) -> None:
    scenario = without_faults(load_scenario("quiet_day"))
    world = World(scenario, tmp_path)
    first = next(r for r in world.plan if r.stop - r.start > 1200)
    clock = ManualClock(first.start + 60)
    app = build_app(world, clock)
    world.advance_to(clock.now())
    assert first.number in world.started and first.number not in world.ended
    before = asyncio.run(_oms_runs(app))

    clock.set(first.stop - 60)
    world.advance_to(clock.now())
    during = asyncio.run(_oms_runs(app))

    old, new = _run(before, first.number), _run(during, first.number)
    assert new["duration"] > old["duration"], "the full OMS view grows while the run goes on"
    assert new["last_lumisection_number"] > old["last_lumisection_number"]
    assert _fixed(during) == _fixed(before), "nothing but the counters moves meanwhile"
    for old_row, new_row in zip(before, during, strict=True):
        old, new = old_row["attributes"], new_row["attributes"]
        moved = {k for k in old if old[k] != new[k]}
        assert moved <= OMS_COUNTERS
        assert bool(moved) == (old["run_number"] == first.number), "only the running run moves"
        assert parse_run(old_row) == parse_run(new_row), "what the OMS spy reads is unchanged"

    clock.set(first.stop + 60)
    world.advance_to(clock.now())
    ended = asyncio.run(_oms_runs(app))
    assert _fixed(ended) != _fixed(before), "the run's end is a change"
    assert _run(before, first.number)["end_time"] is None
    assert _run(ended, first.number)["end_time"] is not None
    assert parse_run(_row(ended, first.number)) != parse_run(_row(before, first.number)), (
        "the OMS spy sees the run's end"
    )

    clock.set(first.stop + 3600)
    world.advance_to(clock.now())
    later = asyncio.run(_oms_runs(app))
    assert _run(later, first.number) == _run(ended, first.number), "an ended run stays put"
