"""Fixtures for the simulator tests: worlds on manual clocks, real servers on loopback."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from spyagency.simulator.clock import ManualClock
from spyagency.simulator.scenario import HOUR, Scenario, load_scenario
from spyagency.simulator.server import SimulatorServer
from spyagency.simulator.world import World


@pytest.fixture
def quiet() -> Scenario:
    return load_scenario("quiet_day")


@pytest.fixture
def bad() -> Scenario:
    return load_scenario("bad_day")


def without_faults(scenario: Scenario) -> Scenario:
    return scenario.replace(faults=dataclasses.replace(scenario.faults, http_rates={}))


@dataclasses.dataclass
class LiveSim:
    """A simulator served over real HTTP whose simulated time the test drives by hand."""

    server: SimulatorServer
    clock: ManualClock
    client: httpx2.Client

    @property
    def world(self) -> World:
        assert self.server.world is not None
        return self.server.world

    def set_time(self, t: float) -> None:
        """Move simulated time and materialise the world up to it (no wait for the ticker)."""
        self.clock.set(max(t, self.clock.now()))
        self.world.advance_to(self.clock.now())

    def at_hours(self, hours: float) -> None:
        self.set_time(self.server.scenario.start + hours * HOUR)

    def get(self, path: str, **params: object) -> httpx2.Response:
        return self.client.get(path, params={k: str(v) for k, v in params.items()})


def start_live(scenario: Scenario, root: Path) -> Iterator[LiveSim]:
    clock = ManualClock(scenario.start)
    server = SimulatorServer(scenario, root, clock=clock, tick_s=0.05).start()
    try:
        with httpx2.Client(base_url=server.base_url, timeout=10.0) as client:
            yield LiveSim(server, clock, client)
    finally:
        server.stop()


@pytest.fixture
def live(quiet: Scenario, tmp_path: Path) -> Iterator[LiveSim]:
    """quiet_day without random HTTP faults, served on 127.0.0.1."""
    yield from start_live(without_faults(quiet), tmp_path)


@pytest.fixture(scope="module")
def live_day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSim]:
    """One shared read-only server: quiet_day advanced 3 days (everything released)."""
    scenario = without_faults(load_scenario("quiet_day"))
    for sim in start_live(scenario, tmp_path_factory.mktemp("live_day")):
        sim.at_hours(72)
        yield sim
