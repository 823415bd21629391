"""While a run goes on, only OMS's running counters move: a reader of the rest sees no change.

An event-driven replay relies on this to poll OMS at run start and run end only (the OMS spy
reads no counter), instead of at every step while a run goes on.
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


def test_a_running_run_changes_only_its_counters(tmp_path: Path) -> None:
    scenario = without_faults(load_scenario("quiet_day"))
    world = World(scenario, tmp_path)
    first = next(r for r in world.plan if r.stop - r.start > 1200)
    clock = ManualClock(first.start + 60)
    app = build_app(world, clock)
    world.advance_to(clock.now())
    assert first.number in world.running
    mark = world.change_mark()
    before = asyncio.run(_oms_runs(app))

    clock.set(first.stop - 60)
    world.advance_to(clock.now())
    after = asyncio.run(_oms_runs(app))

    assert world.changed_since("oms", mark), "the full OMS view grows while the run goes on"
    assert not world.changed_since("oms", mark, counters=False)
    assert [r["id"] for r in before] == [r["id"] for r in after]
    for old_row, new_row in zip(before, after, strict=True):
        old, new = old_row["attributes"], new_row["attributes"]
        moved = {k for k in old if old[k] != new[k]}
        assert moved <= OMS_COUNTERS
        assert bool(moved) == (old["run_number"] == first.number), "only the running run moves"
        assert parse_run(old_row) == parse_run(new_row), "what the OMS spy reads is unchanged"

    clock.set(first.stop + 60)
    world.advance_to(clock.now())
    assert world.changed_since("oms", mark, counters=False), "the run's end is a change"
