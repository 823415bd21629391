"""Every spy against the simulated CMS over real sockets and real files: the formats the
simulator serves from the public shapes are the formats the spies read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from spyagency.bootstrap import build_spies
from spyagency.config.loading import parse_settings
from spyagency.domain.catalogue import load_catalogue
from spyagency.domain.clock import ManualClock
from spyagency.domain.facts import (
    DqmQuality,
    ExpressConfig,
    FirstConditionSafeRun,
    HarvestFile,
    HarvestJob,
    IovSeen,
    RunInfo,
    UploadResult,
)
from spyagency.domain.knowledge import Knowledge
from spyagency.domain.policy import Policy
from spyagency.engine.polling import poll_once
from spyagency.engine.scoping import poll_scope
from spyagency.harness.demo import agency_document
from spyagency.simulator import ManualClock as SimClock
from spyagency.simulator import SimulatorServer, load_scenario


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorServer]:
    plan = load_scenario("quiet_day")
    # Twelve simulated hours in: runs ended, harvested, uploaded; nothing locked yet.
    clock = SimClock(plan.start + 12 * 3600)
    server = SimulatorServer(plan, tmp_path_factory.mktemp("sim"), clock=clock, port=0).start()
    yield server
    server.stop()


@pytest.mark.timeout(120)
async def test_every_spy_reads_the_simulator_over_http_and_files(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    now = datetime.fromtimestamp(simulator.clock.now(), UTC)
    document = agency_document(simulator.agency_config(), tmp_path, 0, speed=1.0)
    document.pop("clock")  # the simulator is on a manual clock; so is this test
    settings = parse_settings(document)
    clock = ManualClock(now)
    schedules = {s.spy.source.value: s for s in build_spies(settings, clock)}
    knowledge = Knowledge()
    seen: dict[str, set[type]] = {}
    try:
        # Three rounds: discovery first, then what the discovered runs need.
        for _ in range(3):
            for name, schedule in schedules.items():
                open_runs = sorted(knowledge.runs)
                scope = poll_scope(knowledge, open_runs, load_catalogue(), Policy(), now)
                report = await poll_once(schedule.spy, scope, 60.0, clock.now)
                assert report.errors == [], (name, report.errors[:2])
                for observation in report.observations:
                    knowledge.add(observation)
                    seen.setdefault(name, set()).add(type(observation.fact))
    finally:
        for schedule in schedules.values():
            await schedule.spy.aclose()
    assert {ExpressConfig, FirstConditionSafeRun} <= seen["tier0"]
    assert RunInfo in seen["oms"]
    assert HarvestFile in seen["harvest"]
    assert IovSeen in seen["conddb"]
    assert UploadResult in seen["upload_log"]
    assert DqmQuality in seen["dqm"]
    assert HarvestJob in seen["wmstats"]
