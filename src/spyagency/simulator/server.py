"""Run the simulator for real: uvicorn on 127.0.0.1 in a background thread, plus a thread that
keeps the world at the clock's time and (when configured) polls the agency's readiness API."""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx2
import uvicorn

from spyagency.simulator.app import build_app
from spyagency.simulator.clock import ScaledClock, SimClock
from spyagency.simulator.http_faults import SimulatedConnectionReset
from spyagency.simulator.readiness import poll_agency
from spyagency.simulator.scenario import Scenario, load_scenario
from spyagency.simulator.world import World

LOG = logging.getLogger(__name__)
STARTUP_TIMEOUT_S = 10.0
POLL_TIMEOUT_S = 5.0


class _HideSimulatedResets(logging.Filter):
    """Injected resets are on purpose: keep them out of uvicorn's error log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], SimulatedConnectionReset))


class SimulatorServer:
    def __init__(
        self,
        scenario: Scenario | str | Path,
        root_dir: Path | str,
        *,
        speed: float = 3600.0,
        port: int = 0,
        clock: SimClock | None = None,
        tick_s: float = 0.2,
    ) -> None:
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.root = Path(root_dir)
        self.speed = speed
        self.port = port
        self.tick_s = tick_s
        self._clock = clock
        self.world: World | None = None
        self._server: uvicorn.Server | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self.polls = 0

    @property
    def clock(self) -> SimClock:
        if self._clock is None:
            raise RuntimeError("the simulator is not started")
        return self._clock

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SimulatorServer:
        self.world = World(self.scenario, self.root)
        if self._clock is None:
            self._clock = ScaledClock(self.scenario.start, self.speed)
        logging.getLogger("uvicorn.error").addFilter(_HideSimulatedResets())
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            build_app(self.world, self._clock),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        serve = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="sim-http", daemon=True
        )
        advance = threading.Thread(target=self._keep_time, name="sim-clock", daemon=True)
        self._threads = [serve, advance]
        serve.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started:
            if time.monotonic() > deadline or not serve.is_alive():
                raise RuntimeError("the simulator's HTTP server did not start")
            time.sleep(0.01)
        advance.start()
        return self

    def _keep_time(self) -> None:
        assert self.world is not None
        readiness = self.scenario.readiness
        polling = readiness.consume and bool(readiness.poll_url)
        next_poll = time.monotonic()
        with httpx2.Client(timeout=POLL_TIMEOUT_S) as client:
            while not self._stopping.is_set():
                try:
                    self.world.advance_to(self.clock.now())
                    if polling and time.monotonic() >= next_poll:
                        self.poll_once(client)
                        next_poll = time.monotonic() + readiness.poll_interval_s
                except Exception:
                    # A bug in one event must not silently freeze simulated time.
                    LOG.exception("the simulated world failed to advance")
                self._stopping.wait(self.tick_s)

    def poll_once(self, client: httpx2.Client) -> int:
        """Ask the agency which runs are ready; hand every signal to the Tier-0 (idempotent)."""
        assert self.world is not None
        after = self.world.fcsr() - 1
        signals = poll_agency(client, self.scenario.readiness.poll_url, after)
        for signal in signals:
            self.world.receive_ready(signal.run, signal.idempotency_key, "poll")
        self.polls += 1
        return len(signals)

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        for thread in self._threads:
            thread.join(timeout=10)
        if self.world is not None:
            self.world.condb.unlock()
            self.world.condb.restore_readable()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def agency_config(self) -> dict[str, Any]:
        """The values an agency needs to watch this simulator (printed as TOML by the CLI)."""
        assert self.world is not None
        base = self.base_url
        clock = self.clock.describe()
        return {
            "scenario": self.scenario.name,
            "simulator_url": base,
            "tier0_url": f"{base}/t0wmadatasvc/prod/",
            "oms_url": f"{base}/agg/api/v1/",
            "upload_logs_url": f"{base}/logs/dropBox/",
            "dqm_url": f"{base}/dqm/offline/",
            "wmstats_url": f"{base}/t0_reqmon/data/",
            "harvest_dir": str(self.world.harvest_dir.resolve()),
            "conddb_url": f"sqlite:///{self.world.condb.path.resolve()}",
            "prompt_global_tag": self.scenario.tier0.prompt_global_tag,
            "tier0_readiness_webhook_url": f"{base}/sim/tier0/readiness",
            "readiness_secret": self.scenario.readiness.secret,
            "clock": {
                "origin_wall": clock["origin_wall"],
                "origin_sim": clock["origin_sim"],
                "speed": clock["speed"],
            },
        }
