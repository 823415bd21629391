"""A whole production year replayed in-process on a manual clock (slow: --run-slow)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from spyagency.simulator.scenario import HOUR, load_scenario
from spyagency.simulator.world import World


@pytest.mark.slow
def test_production_year_replay(tmp_path: Path) -> None:
    scenario = load_scenario("production_year")
    world = World(scenario, tmp_path)
    step = 24 * HOUR
    t = scenario.start
    while t < scenario.end + 4 * step:
        t += step
        world.advance_to(t)
    records = [world.releaser.records[n] for n in world.started]
    assert len(records) > 1200
    locks = [r.lock_time for r in records]
    assert all(lock is not None for lock in locks)
    assert locks == sorted(locks), "lock-in in run order"  # type: ignore[type-var]
    assert all(r.release_time is not None and not r.early for r in records)
    verdicts = Counter(f.verdict for f in world.files.values())
    assert verdicts["ok"] > 10 * sum(v for k, v in verdicts.items() if k != "ok")
