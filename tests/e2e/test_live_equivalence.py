"""The production loop in virtual time concludes what the live processes do.

The same quiet day, twice: once replayed by ``harness/replay.py`` (the agency's loop on a
virtual-time event loop, the simulator in process), once live: the simulator served over
loopback on its scaled clock (3,600 simulated seconds per wall second), and the agency as
``serve`` runs it, on the matching scaled clock, polling every source every 15 simulated
minutes. Both must reach the same verdicts, send the same signals (run and verdict) and see
the same runs released early. Signal moments are not compared: the live agency polls when
the machine lets it, which a loaded machine moves by a fraction of a poll interval.

Per-request faults drawn from rates are switched off: they hit whichever request comes n-th,
and the two agencies send their requests at different moments.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import httpx2
import pytest

from spyagency.bootstrap import build_runtime
from spyagency.config.loading import parse_settings
from spyagency.domain.states import Verdict
from spyagency.harness.demo import agency_document, free_port
from spyagency.harness.replay import read_signals, replay
from spyagency.serving import serve
from spyagency.simulator import Scenario, SimulatorServer, load_scenario
from tests.e2e.test_replay_determinism import HOURS, STEP

SPEED = 3600.0
POLL_S = STEP.total_seconds() / SPEED  # a quarter of a wall second


def quiet_day() -> Scenario:
    plan = load_scenario("quiet_day")
    return plan.replace(faults=dataclasses.replace(plan.faults, http_rates={}))


@dataclasses.dataclass
class Outcome:
    verdicts: dict[int, Verdict]
    signals: list[tuple[int, Verdict]]
    released_early: set[int]


def released_early(truth: dict[str, Any], until: float) -> set[int]:
    return {
        r["run"]
        for r in truth["runs"]
        if r["released"] == "early" and r["release_time"] is not None and r["release_time"] <= until
    }


def live(workdir: Path, plan: Scenario, hours: float) -> Outcome:
    until = plan.start + hours * 3600
    with SimulatorServer(plan, workdir / "simulator", speed=SPEED) as simulator:
        document = agency_document(
            simulator.agency_config(), workdir, free_port(), SPEED, poll_seconds=POLL_S
        )
        # As the replay's agency: no tag map read from the CondDB, a tick per poll interval.
        document["sources"].pop("prompt_global_tags")
        document["engine"] = {"evaluate_interval_seconds": POLL_S}
        runtime = build_runtime(parse_settings(document))

        async def run_until_the_end() -> None:
            stop = asyncio.Event()

            async def watch_the_clock() -> None:
                while simulator.clock.now() < until:
                    await asyncio.sleep(0.05)
                stop.set()

            watcher = asyncio.create_task(watch_the_clock())
            try:
                await serve(runtime, engine=True, web=False, stop=stop)
                await watcher
            finally:
                for schedule in runtime.agency.supervisor.schedules:
                    await schedule.spy.aclose()

        asyncio.run(run_until_the_end())
        truth = httpx2.get(f"{simulator.base_url}/sim/truth", timeout=30).json()
    verdicts = {}
    with runtime.store.read() as tx:
        verdicts = {record.run: record.verdict for record in tx.states.list_runs(limit=None)}
    signals = [(s.run, s.verdict) for s in read_signals(runtime)]
    runtime.store.dispose()
    return Outcome(verdicts, signals, released_early(truth, until))


def replayed(workdir: Path, plan: Scenario, hours: float) -> Outcome:
    result = replay(
        "quiet_day", workdir, step=STEP, hours=hours, plan_changes={"faults": plan.faults}
    )
    signals = [(s.run, s.verdict) for s in result.signals]
    return Outcome(
        result.verdicts, signals, released_early(result.truth, plan.start + hours * 3600)
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_virtual_time_replay_concludes_what_the_live_agency_does(tmp_path: Path) -> None:
    plan = quiet_day()
    reference = live(tmp_path / "live", plan, HOURS)
    ours = replayed(tmp_path / "replay", plan, HOURS)
    assert any(verdict is Verdict.READY for _, verdict in reference.signals), "the day signals"
    assert ours.verdicts == reference.verdicts
    assert ours.signals == reference.signals
    assert ours.released_early == reference.released_early
