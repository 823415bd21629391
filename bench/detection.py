"""Detection: from a source change to the readiness signal arriving, against the poll interval.

Real time, real sockets, real processes:

- the simulator serves a clean world (the quiet day's mix of runs for as many days as needed,
  without faults, failures, vetoes or late uploads, so every run becomes provably ready) on
  loopback, on a clock this script moves by hand;
- the agency runs as ``spyagency engine`` in a child process, every source polled every
  ``--interval`` seconds, its readiness webhook pointed at a tiny receiver in this process that
  notes when each signal arrives and passes it on to the simulated Tier-0, which releases the
  run early (so open runs stay few, as in production; its fallback timer is set to 5 days, so
  that a wave's jump never locks a run before the agency could signal it);
- the CondDB the agency reads is a copy of the simulator's that this script keeps in step.

Changes come in waves. Each wave moves simulated time on by ``--wave-days``: the runs of those
days start, stop, are harvested and uploaded, and the simulator writes their IOVs into its own
CondDB. The script waits ``--settle`` seconds, so the agency has seen every other piece of
evidence (run, express configuration, streams, files, upload markers and logs, DQM, jobs), then
copies the new CondDB rows into the agency's copy in one transaction: the source change. That
IOV is the last piece of evidence, and the moment of the commit starts the clock of every run
it makes provably ready. A run's detection latency is its signal's arrival minus that moment.
Signals that arrive before the copy (a run that became ready without a CondDB change) are
counted but not measured.

Prints p50 and p99 over ``--changes`` runs made ready, the interval, and the ratio
p99 / (interval + 1 s). Target: ratio at most 1.

    .venv/bin/python bench/detection.py [--changes 1000] [--interval 1] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
from _common import free_port, median, percentile

from spyagency.simulator.clock import ManualClock
from spyagency.simulator.scenario import Scenario, load_scenario
from spyagency.simulator.server import SimulatorServer
from spyagency.simulator.truth import run_truth
from spyagency.simulator.world import World

DAY = 86400.0
SECRET = "bench-detection-secret"
CONDDB_TABLES = ("TAG", "PAYLOAD", "IOV", "GLOBAL_TAG", "GLOBAL_TAG_MAP", "TAG_LOG", "RUN_INFO")
SLACK_S = 1.0


def clean_world(days: float, start: float) -> Scenario:
    """The quiet day's mix of runs over ``days``, every calibration produced and uploaded on
    time: each run ends provably ready, so each one is a change to detect."""
    base = load_scenario("quiet_day")
    return base.replace(
        name="detection_bench",
        start=start,
        duration_s=days * DAY,
        runs=replace(base.runs, no_express_fraction=0.0),
        timing=replace(base.timing, upload_tail_fraction=0.0),
        outcomes=replace(
            base.outcomes,
            no_payload_rate=0.0,
            alignment_veto_rate=0.0,
            harvest_failure_rate=0.0,
            upload_error_rate=0.0,
            dqm_error_rate=0.0,
        ),
        # Signals reach the simulated Tier-0 (forwarded by the receiver), which releases ready
        # runs early, so open runs stay few, as in production. Its fallback timer is longer than
        # production's 48 h: a wave jumps days at once, and the timer must not lock a run inside
        # the jump, before the agency could have seen it ready.
        tier0=replace(base.tier0, reco_delay_s=5 * DAY),
        readiness=replace(base.readiness, consume=True, webhook=True, secret=SECRET),
        faults=replace(
            base.faults, http_rates={}, service_rates={}, item_rates={}, windows=(), ensure_items=()
        ),
    )


@dataclass
class Receiver:
    """The Tier-0 end of the webhook: notes the first arrival of each run's ready signal."""

    forward_url: str = ""  # the simulated Tier-0's webhook
    outgoing: queue.Queue[tuple[bytes, dict[str, str]]] = field(default_factory=queue.Queue)
    arrivals: dict[int, float] = field(default_factory=dict)
    # The engine's decision time (the signal's ``decided_at``), as a monotonic time.
    decided: dict[int, float] = field(default_factory=dict)
    deliveries: int = 0
    guard: threading.Lock = field(default_factory=threading.Lock)

    def note(self, body: bytes) -> None:
        now, wall = time.monotonic(), time.time()
        document = json.loads(body)
        signals = document.get("signals", [document])
        with self.guard:
            self.deliveries += 1
            for signal in signals:
                if signal.get("verdict") == "ready" and int(signal["run"]) not in self.arrivals:
                    run = int(signal["run"])
                    self.arrivals[run] = now
                    decided = datetime.fromisoformat(signal["decided_at"]).timestamp()
                    self.decided[run] = now - (wall - decided)

    def forward_all(self) -> None:
        """Pass signals on to the simulated Tier-0 (signed by the agency, as they came)."""
        keep = ("content-type", "x-spyagency-signature", "idempotency-key")
        with httpx2.Client(timeout=10) as client:
            while True:
                body, headers = self.outgoing.get()
                wanted = {k: v for k, v in headers.items() if k.lower() in keep}
                with contextlib.suppress(httpx2.HTTPError):
                    client.post(self.forward_url, content=body, headers=wanted)

    def serve(self, port: int) -> ThreadingHTTPServer:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.note(body)
                # Answer first, pass on afterwards (in order, one at a time): the dispatcher
                # waits for this answer before the next signal, the Tier-0 must not slow it.
                receiver.outgoing.put((body, dict(self.headers.items())))
                answer = json.dumps({"accepted": True, "results": []}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                return

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                return  # the engine stopping mid-request at the end: nothing to report

        server = Server(("127.0.0.1", port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        threading.Thread(target=self.forward_all, daemon=True).start()
        return server


def sync_conddb(source: Path, view: Path) -> float:
    """Copy every row of the simulator's CondDB into the agency's copy in one transaction;
    returns the moment of the commit (the source change)."""
    connection = sqlite3.connect(view, timeout=30, isolation_level=None)
    try:
        connection.execute("ATTACH DATABASE ? AS upstream", (f"file:{source}?mode=ro",))
        connection.execute("BEGIN IMMEDIATE")
        for table in CONDDB_TABLES:
            connection.execute(
                f"INSERT OR REPLACE INTO main.{table} SELECT * FROM upstream.{table}"
            )
        connection.execute("COMMIT")
        return time.monotonic()
    finally:
        connection.close()


def agency_config(
    sim_url: str, world: World, conddb: Path, database: Path, receiver: str, interval: float
) -> str:
    sources = {
        "tier0": f'url = "{sim_url}/t0wmadatasvc/prod/"',
        "oms": f'url = "{sim_url}/agg/api/v1/"',
        "harvest": f'path = "{world.harvest_dir}"',
        "conddb": f'url = "sqlite:///{conddb}"',
        "upload_log": f'url = "{sim_url}/logs/dropBox/"',
        "dqm": f'url = "{sim_url}/dqm/offline/"',
        "wmstats": f'url = "{sim_url}/t0_reqmon/data/"',
    }
    lines = [
        "[database]",
        f'url = "sqlite:///{database}"',
        "[sources]",
        f'prompt_global_tags = ["{world.scenario.tier0.prompt_global_tag}"]',
    ]
    for name, where in sources.items():
        lines += [f"[sources.{name}]", where, f"poll_interval_seconds = {interval}"]
    lines += [
        "[signals]",
        f'webhook_url = "{receiver}"',
        f'webhook_secret = "{SECRET}"',
        # Waves make many runs ready at once; the production rate limit (one a second after a
        # burst of ten) would measure the limiter, not the detection.
        "max_per_minute = 100000",
        "[logging]",
        'level = "WARNING"',
    ]
    return "\n".join(lines) + "\n"


def required_complete(world: World, run: int) -> bool | None:
    """True when the stopped run has every required calibration provable in the simulator's
    CondDB, False when not yet, None when it requires nothing (never a change to measure)."""
    truth = run_truth(world.runs[run], None, world)
    if truth["stop"] is None:
        return False
    required = truth["required"]
    if not required:
        return None
    return all(row["provable_at"] is not None for row in required)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    deciding: list[float] = field(default_factory=list)  # change -> decision in the engine
    before_change: int = 0  # ready without a CondDB change in its wave: not measured
    missing: list[int] = field(default_factory=list)


def run_waves(
    server: SimulatorServer,
    clock: ManualClock,
    view: Path,
    receiver: Receiver,
    options: argparse.Namespace,
) -> Tally:
    world = server.world
    assert world is not None
    tally = Tally()
    measured: set[int] = set()
    expected: list[int] = []  # runs announced so far, in order (a prefix of the run list)
    t = clock.now()
    timeout = max(10.0, 5 * options.interval)
    wave = 0
    while len(tally.latencies) < options.changes:
        wave += 1
        # The first wave is short: an engine that starts on an empty store discovers only the
        # newest runs, so it must meet the world while the world is small.
        t += options.wave_days * DAY if wave > 1 else DAY / 8
        clock.set(t)
        with world.lock:
            world.advance_to(t)
            started = list(world.started)
        time.sleep(options.settle)
        with receiver.guard:
            early = {r for r in receiver.arrivals if r not in measured}
        change = sync_conddb(world.condb.path, view)
        # A run is announced only when every lower run is: the prefix of complete runs.
        newly: list[int] = []
        with world.lock:
            for run in started:
                if run in expected:
                    continue
                complete = required_complete(world, run)
                if complete is False:
                    break
                newly.append(run)
            wanted = {run for run in newly if required_complete(world, run)}
        expected.extend(newly)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with receiver.guard:
                if wanted <= receiver.arrivals.keys():
                    break
            time.sleep(0.05)
        with receiver.guard:
            arrivals, decided = dict(receiver.arrivals), dict(receiver.decided)
        this_wave: list[float] = []
        for run in wanted:
            if run in early:
                tally.before_change += 1
            elif run in arrivals:
                this_wave.append(arrivals[run] - change)
                if wave > 1:
                    tally.deciding.append(decided[run] - change)
            elif wave > 1:
                tally.missing.append(run)
            measured.add(run)
        if wave > 1:  # the first wave only lets the agency find the world (see main)
            tally.latencies.extend(this_wave)
        spread = (
            f"latency {min(this_wave):.2f}..{max(this_wave):.2f} s" if this_wave else "no signal"
        )
        print(
            f"wave {wave:3d}: {len(wanted):3d} runs made ready, {len(this_wave):3d} signalled "
            f"({spread}); {len(tally.latencies)} measured",
            flush=True,
        )
        if all(run in expected for run in world.runs) or (wave > 10 and not expected):
            print("the simulated world has no more runs to make ready")
            break
    return tally


def what_the_agency_says(database: Path, runs: list[int]) -> list[str]:
    """The stored verdict and reasons of runs never signalled (to tell a slow signal from a
    run the agency judged otherwise than the simulator's truth)."""
    from spyagency.store import Store, build_engine

    store = Store(build_engine(f"sqlite:///{database}"))
    try:
        with store.read() as tx:
            records = [(run, tx.states.get_run(run)) for run in runs]
    finally:
        store.dispose()
    return [
        f"run {run}: "
        + (f"{r.verdict.value}: {'; '.join(r.assessment.reasons)}" if r else "unknown")
        for run, r in records
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=1.0, help="poll interval, seconds")
    parser.add_argument("--wave-days", type=float, default=1.5, help="simulated days per wave")
    parser.add_argument(
        "--settle", type=float, default=None, help="seconds before the CondDB change"
    )
    parser.add_argument("--quick", action="store_true", help="100 changes")
    options = parser.parse_args()
    if options.quick:
        options.changes = min(options.changes, 100)
    if options.settle is None:
        # Discovery, then files, then upload logs: three poll cycles of every source, plus room.
        options.settle = 3 * options.interval + 1.0
    days = options.changes / 9 + 10  # the quiet day has about 11 runs a day, 9+ of them ready

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        scenario = clean_world(days, time.time())
        clock = ManualClock(scenario.start)
        server = SimulatorServer(scenario, root / "sim", clock=clock, tick_s=0.05).start()
        assert server.world is not None
        view = root / "agency-conddb.sqlite"
        with server.world.lock:
            view.write_bytes(server.world.condb.path.read_bytes())
        # WAL: the agency's reads never wait for a copy in progress; they see it once committed.
        with contextlib.closing(sqlite3.connect(view)) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
        receiver = Receiver(forward_url=f"{server.base_url}/sim/tier0/readiness")
        port = free_port()
        http = receiver.serve(port)
        config = root / "agency.toml"
        config.write_text(
            agency_config(
                server.base_url,
                server.world,
                view,
                root / "agency.db",
                f"http://127.0.0.1:{port}/readiness",
                options.interval,
            )
        )
        log = (root / "agency.log").open("w")
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
        child = subprocess.Popen(
            [sys.executable, "-m", "spyagency", "engine", "-c", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
        )
        try:
            time.sleep(3 + 2 * options.interval)  # start-up, first polls
            if child.poll() is not None:
                raise RuntimeError("the engine exited: " + (root / "agency.log").read_text())
            began = time.monotonic()
            tally = run_waves(server, clock, view, receiver, options)
            seconds = time.monotonic() - began
        finally:
            child.terminate()
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()
            log.close()
            http.shutdown()
            server.stop()
        tail = (root / "agency.log").read_text().strip().splitlines()[-5:]
        why = what_the_agency_says(root / "agency.db", tally.missing[:5])

    latencies = tally.latencies
    p50, p99 = median(latencies), percentile(latencies, 0.99)
    limit = options.interval + SLACK_S
    print(
        f"{len(latencies)} changes measured in {seconds:.0f} s; "
        f"poll interval {options.interval:g} s"
    )
    print(
        f"ready without a CondDB change (not measured): {tally.before_change}; "
        f"never signalled: {len(tally.missing)} {tally.missing[:10]}"
    )
    for line in why:
        print(f"  {line}")
    if tally.missing and tail:
        print("engine log tail:\n  " + "\n  ".join(tail))
    print(
        f"latency p50 {p50:.3f} s  p90 {percentile(latencies, 0.9):.3f} s  "
        f"p99 {p99:.3f} s  max {max(latencies):.3f} s"
    )
    deciding = tally.deciding
    print(
        f"  of which change -> decision (engine): p50 {median(deciding):.3f} s  "
        f"p99 {percentile(deciding, 0.99):.3f} s; decision -> arrival (outbox): p50 "
        f"{median([a - d for a, d in zip(latencies, deciding, strict=True)]):.3f} s"
    )
    print(f"P50_S {p50:.3f} P99_S {p99:.3f} INTERVAL_S {options.interval:g}")
    print(f"RATIO {p99 / limit:.3f} LIMIT 1 (p99 / (interval + {SLACK_S:g} s))")


if __name__ == "__main__":
    main()
