"""Run the simulator for real: uvicorn on 127.0.0.1 in a background thread, plus a thread that
keeps the world at the clock's time and (when configured) polls the agency's readiness API.

The server also keeps a ledger of every readiness webhook the Tier-0 received (``GET
/sim/received``): the world itself dedupes signals by key and remembers only the first per run,
but a crash test must see every delivery, repeats included, to prove none came twice under
different keys.
"""

from __future__ import annotations

import dataclasses
import json
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
from spyagency.simulator.clock import ManualClock, ScaledClock, SimClock
from spyagency.simulator.http_faults import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    SimulatedConnectionReset,
)
from spyagency.simulator.readiness import parse_signals, poll_agency
from spyagency.simulator.scenario import Scenario, load_scenario
from spyagency.simulator.world import World

LOG = logging.getLogger(__name__)
STARTUP_TIMEOUT_S = 10.0
POLL_TIMEOUT_S = 5.0
READINESS_PATH = "/sim/tier0/readiness"
LEDGER_PATH = "/sim/received"


class _HideSimulatedResets(logging.Filter):
    """Injected resets are on purpose: keep them out of uvicorn's error log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], SimulatedConnectionReset))


def without_request_faults(scenario: Scenario) -> Scenario:
    """The scenario with no random per-request HTTP faults; scripted windows and per-file
    faults stay. Those faults come from one random sequence drawn request by request, so a
    client that repeats requests (after a crash) would otherwise meet a different world."""
    faults = dataclasses.replace(scenario.faults, http_rates={}, service_rates={})
    return scenario.replace(faults=faults)


class ReadinessLedger:
    """Every readiness signal the webhook answered, in arrival order, repeats included.

    An entry: ``{"at", "run", "verdict", "idempotency_key", "status", "repeat"}``, where ``at``
    is the simulated time of arrival, ``status`` the HTTP status answered and ``repeat`` whether
    the same key was accepted before. Rejected requests (bad signature, bad body) are kept too,
    so a test can tell a lost signal from a refused one.
    """

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self._entries: list[dict[str, Any]] = []
        self._accepted_keys: set[str] = set()
        self._guard = threading.Lock()

    def note(self, body: bytes, header_key: str | None, status: int) -> None:
        try:
            signals = parse_signals(json.loads(body), header_key)
        except ValueError:  # also covers JSONDecodeError: an unreadable body has no signal
            signals = []
        at = self.clock.now()
        with self._guard:
            for signal in signals:
                key = signal.idempotency_key
                self._entries.append(
                    {
                        "at": at,
                        "run": signal.run,
                        "verdict": signal.verdict,
                        "idempotency_key": key,
                        "status": status,
                        "repeat": key in self._accepted_keys,
                    }
                )
                if status == 200:
                    self._accepted_keys.add(key)

    def entries(self) -> list[dict[str, Any]]:
        with self._guard:
            return [dict(entry) for entry in self._entries]


def with_ledger(app: ASGIApp, ledger: ReadinessLedger) -> ASGIApp:
    """Wrap ``app``: note every readiness webhook and answer ``GET /sim/received``."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope.get("path"), scope.get("method")
        if scope["type"] != "http" or path not in (READINESS_PATH, LEDGER_PATH):
            await app(scope, receive, send)
            return
        if path == LEDGER_PATH and method == "GET":
            await _send_json(send, {"deliveries": ledger.entries()})
            return
        if method != "POST":
            await app(scope, receive, send)
            return
        body = await _read_body(receive)
        status = 0

        async def replay_body() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def watch_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await app(scope, replay_body, watch_status)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        ledger.note(body, headers.get("idempotency-key"), status)

    return wrapped


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send_json(send: Send, document: dict[str, Any]) -> None:
    body = json.dumps(document).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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
        manual_clock: bool = False,
    ) -> None:
        """``manual_clock``: time stands still until ``POST /sim/advance`` (or ``clock.set``)
        moves it, starting at the scenario's start; ignored when ``clock`` is given."""
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.root = Path(root_dir)
        self.speed = speed
        self.port = port
        self.tick_s = tick_s
        if clock is None and manual_clock:
            clock = ManualClock(self.scenario.start)
        self._clock = clock
        self.world: World | None = None
        self.ledger: ReadinessLedger | None = None
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
        # Accepted connections inherit this: without it an answer written in two parts (head,
        # then body) waits for the client's delayed ACK, about 40 ms per request on loopback.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        self.ledger = ReadinessLedger(self._clock)
        config = uvicorn.Config(
            with_ledger(build_app(self.world, self._clock), self.ledger),
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
