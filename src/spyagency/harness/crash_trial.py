"""The crash trial: run the engine as its own process against a simulator process, kill it with
SIGKILL at seeded random moments, restart it each time, and compare the end with a run of the
same scenario that was never interrupted.

``run_trial`` does one run (``kills=0`` is the reference):

1. start the simulator (``python -m spyagency.simulator --manual-clock --quiet-requests``) in
   its own process, so that it outlives every engine life and keeps the only copy of the world;
2. write an agency configuration watching it, with its own fresh store;
3. start the crash driver (``spyagency.harness.crash_driver``); following the kill plan, wait
   until it has begun the planned step (or is still starting up), wait a random fraction of a
   step more, and SIGKILL it; start it again; repeat until it finishes by itself;
4. read the store's fingerprint, the simulated Tier-0's ledger of received signals and the
   ground truth.

``compare`` lists every difference between two runs, and ``delivery_problems`` every breach of
the delivery contract within one (two keys for one decision, a refused delivery).

Per-request HTTP faults are switched off (``--quiet-requests``): they are drawn from one random
sequence request by request, so a redone step would meet other faults than the reference did,
and the comparison would measure the dice rather than the engine. Scripted fault windows and
per-file faults stay, as they depend on simulated time only.
"""

from __future__ import annotations

import itertools
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx2

import spyagency
from spyagency.config.loading import parse_settings
from spyagency.harness.crash_driver import DELIVER, REDELIVER
from spyagency.harness.toml_text import to_toml
from spyagency.store.database import build_engine
from spyagency.store.uow import Store

SRC_DIR = Path(spyagency.__file__).resolve().parents[1]
SIM_START_TIMEOUT_S = 60.0
LIFE_TIMEOUT_S = 900.0
STARTUP_KILL_SHARE = 0.2  # share of kills aimed at a starting engine (migrations, store load)
HTTP_TIMEOUT_S = 30.0
# How much later than the reference the Tier-0 may release a run: the driver redelivers once a
# dead engine's lease has run out (see crash_driver).
LEASE_SLACK_S = (REDELIVER - DELIVER).total_seconds()


# --- the plan --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kill:
    """Kill when the driver has begun step ``step`` (or, ``at_startup``, while it starts),
    ``fraction`` of a typical step (or start-up) later."""

    step: int
    fraction: float
    at_startup: bool = False


def kill_plan(kills: int, steps: int, seed: int) -> list[Kill]:
    """``kills`` kills spread uniformly over ``steps`` steps, in order; reproducible by seed."""
    rng = random.Random(seed)
    targets = sorted(rng.randrange(max(1, steps)) for _ in range(kills))
    return [Kill(t, rng.random(), rng.random() < STARTUP_KILL_SHARE) for t in targets]


# --- the simulator process ----------------------------------------------------------------


@dataclass
class SimulatorProcess:
    process: subprocess.Popen[str]
    config: dict[str, Any]

    @property
    def url(self) -> str:
        return str(self.config["simulator_url"])

    def get(self, path: str) -> Any:
        with httpx2.Client(base_url=self.url, timeout=HTTP_TIMEOUT_S) as client:
            answer = client.get(path)
            answer.raise_for_status()
            return answer.json()


def child_environment() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(SRC_DIR), path) if p)}


@contextmanager
def simulator_process(scenario: str, root: Path) -> Iterator[SimulatorProcess]:
    command = [
        sys.executable,
        "-m",
        "spyagency.simulator",
        "--scenario",
        scenario,
        "--manual-clock",
        "--quiet-requests",
        "--port",
        "0",
        "--dir",
        str(root),
    ]
    log = (root.parent / "simulator.log").open("w")
    # The command is ours: this interpreter and fixed arguments.
    process = subprocess.Popen(  # noqa: S603
        command, stdout=subprocess.PIPE, stderr=log, text=True, env=child_environment()
    )
    try:
        assert process.stdout is not None
        config = tomllib.loads(_read_until(process.stdout, "# serving"))["simulator"]
        yield SimulatorProcess(process, config)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        log.close()


def _read_until(stream: IO[str], marker: str) -> str:
    lines: list[str] = []
    deadline = time.monotonic() + SIM_START_TIMEOUT_S
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            raise RuntimeError("the simulator exited before serving:\n" + "".join(lines))
        if line.startswith(marker):
            return "".join(lines)
        lines.append(line)
    raise RuntimeError("the simulator did not start in time")


def agency_document(sim: dict[str, Any], database_url: str) -> dict[str, Any]:
    """An agency watching the simulator ``sim`` (its ``agency_config()``), storing in
    ``database_url``. One poll per step and no retries: a failed poll is redone a step later."""
    fast = {"retries": 0, "timeout_seconds": 10.0}
    return {
        "database": {"url": database_url},
        "sources": {
            "tier0": {"url": sim["tier0_url"], **fast},
            "oms": {"url": sim["oms_url"], **fast},
            "harvest": {"path": sim["harvest_dir"]},
            "conddb": {"url": sim["conddb_url"], **fast},
            "upload_log": {"url": sim["upload_logs_url"], **fast},
            "dqm": {"url": sim["dqm_url"], **fast},
            "wmstats": {"url": sim["wmstats_url"], **fast},
            "prompt_global_tags": [sim["prompt_global_tag"]],
        },
        "signals": {
            "webhook_url": sim["tier0_readiness_webhook_url"],
            "webhook_secret": sim["readiness_secret"],
        },
        "web": {"public_url": "http://agency.invalid"},
    }


# --- engine lives ----------------------------------------------------------------------------


@dataclass
class LifeLog:
    """What the parent saw of the driver's lives."""

    lives: int = 0
    kills: int = 0
    kills_at_startup: int = 0
    self_kills: int = 0  # lives that killed themselves right after a delivery
    step_seconds: float = 0.3  # running estimate of one step's wall time
    startup_seconds: float = 1.5  # running estimate of start-up until "ready"
    killed_at_steps: list[int] = field(default_factory=list)


class DriverLife:
    """One driver process, its stdout read line by line by a thread."""

    def __init__(self, command: list[str], stderr: IO[str]) -> None:
        self.began = time.monotonic()
        self.process = subprocess.Popen(  # noqa: S603 (our interpreter, our arguments)
            command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=child_environment()
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def next_line(self) -> str | None:
        """The next line; None when the driver's output ended (it exited or was killed)."""
        return self.lines.get(timeout=LIFE_TIMEOUT_S)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._close()

    def finish(self) -> int:
        while self.next_line() is not None:
            pass
        code = self.process.wait(timeout=LIFE_TIMEOUT_S)
        self._close()
        return code

    def _close(self) -> None:
        self._pump_thread.join(timeout=LIFE_TIMEOUT_S)
        assert self.process.stdout is not None
        self.process.stdout.close()


def live_until_killed(
    life: DriverLife, kill: Kill, start: float, step_s: float, log: LifeLog
) -> bool:
    """Follow ``life`` and kill it as ``kill`` says; False if it finished first."""
    if kill.at_startup:
        time.sleep(kill.fraction * log.startup_seconds)
        if life.process.poll() is not None:
            return False
        life.kill()
        log.kills_at_startup += 1
        return True
    last_step_at: float | None = None
    while (line := life.next_line()) is not None:
        now = time.monotonic()
        if line == "ready":
            log.startup_seconds = 0.5 * log.startup_seconds + 0.5 * (now - life.began)
        if not line.startswith("step "):
            continue
        if last_step_at is not None:
            log.step_seconds = 0.8 * log.step_seconds + 0.2 * (now - last_step_at)
        last_step_at = now
        index = round((float(line.split()[1]) - start) / step_s)
        if index >= kill.step:
            time.sleep(kill.fraction * log.step_seconds)
            life.kill()
            log.killed_at_steps.append(index)
            return True
    return False


def run_lives(
    command: list[str],
    plan: Iterable[Kill],
    start: float,
    step_s: float,
    stderr: IO[str],
    self_killing: list[str] | None = None,
) -> LifeLog:
    """Start the driver, kill it as planned, restart it; return once it finished by itself.
    ``self_killing``: a first life's command that ends in its own kill."""
    log = LifeLog()
    if self_killing is not None:
        # This life dies right after a delivery, before the outbox records it.
        code = DriverLife(self_killing, stderr).finish()
        log.lives += 1
        if code != -signal.SIGKILL:
            raise RuntimeError(f"the self-killing driver ended with {code}, not by its own kill")
        log.self_kills += 1
    kills = iter(plan)
    while True:
        life = DriverLife(command, stderr)
        log.lives += 1
        kill = next(kills, None)
        if kill is not None and live_until_killed(life, kill, start, step_s, log):
            log.kills += 1
            continue
        code = life.finish()
        if code != 0:
            raise RuntimeError(f"the crash driver failed (exit {code}); see its log")
        return log


# --- what a run leaves behind --------------------------------------------------------------


def _t(moment: datetime | None) -> str | None:
    """Times compared as UTC text: SQLite and PostgreSQL hand back equal instants alike."""
    return None if moment is None else moment.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class StoreFingerprint:
    """Everything the engine decided and recorded, as comparable plain values (no row ids,
    no wall times, no worker names)."""

    runs: tuple[tuple[Any, ...], ...]
    workflows: tuple[tuple[Any, ...], ...]
    signals: tuple[tuple[Any, ...], ...]
    outbox: tuple[tuple[Any, ...], ...]
    events: tuple[tuple[Any, ...], ...]
    alerts: tuple[tuple[Any, ...], ...]
    observations: tuple[tuple[Any, ...], ...]


def store_fingerprint(database_url: str) -> StoreFingerprint:
    store = Store(build_engine(database_url))
    try:
        with store.read() as tx:
            records = tx.states.list_runs(limit=None)
            runs = [(r.run, r.verdict.value, _t(r.verdict_since)) for r in records]
            workflows = [
                (w.run, w.workflow, w.state.value, _t(w.state_since), _t(w.proven_at))
                for r in records
                for w in r.workflows
            ]
            signals = [
                (s.run, s.verdict.value, s.idempotency_key, _t(s.decided_at), s.sent)
                for latest in tx.signals.all_latest()
                for s in tx.signals.for_run(latest.run)
            ]
            outbox = [
                (m.channel, m.kind, m.run, m.idempotency_key, m.status.value)
                for m in tx.outbox.list(limit=1_000_000)
            ]
            events = [
                (_t(e.at), e.kind, e.run, e.workflow, e.old, e.new)
                for e in tx.events.since(0, limit=10_000_000)
            ]
            alerts = [
                (a.dedupe_key, a.kind, a.run, a.workflow, _t(a.opened_at), _t(a.resolved_at))
                for a in tx.alerts.history(limit=1_000_000)
            ]
            observations = [
                (o.source.value, _t(o.observed_at), repr(o.fact))
                for o in tx.observations.iter_all()
            ]
    finally:
        store.dispose()
    return StoreFingerprint(
        *(
            tuple(sorted(rows, key=repr))
            for rows in (runs, workflows, signals, outbox, events, alerts, observations)
        )
    )


@dataclass
class TrialRun:
    fingerprint: StoreFingerprint
    deliveries: list[dict[str, Any]]
    truth: dict[str, Any]
    lives: LifeLog
    wall_seconds: float

    def accepted(self) -> set[tuple[int, str, str]]:
        """(run, verdict, key) the Tier-0 accepted, each once however often it came."""
        return {
            (d["run"], d["verdict"], d["idempotency_key"])
            for d in self.deliveries
            if d["status"] == 200
        }

    def repeats(self) -> int:
        return sum(1 for d in self.deliveries if d["repeat"])


def run_trial(
    scenario: str,
    workdir: Path,
    *,
    hours: float,
    step: timedelta = timedelta(minutes=10),
    kills: int = 0,
    seed: int = 1,
    database_url: str | None = None,
    kill_after_deliveries: int | None = None,
) -> TrialRun:
    """One run of ``scenario`` for ``hours`` simulated hours from its start (see the module)."""
    began = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)
    database_url = database_url or f"sqlite:///{workdir / 'agency.db'}"
    with simulator_process(scenario, workdir / "simulator") as sim:
        start = float(sim.get("/sim/clock")["origin_sim"])
        until = datetime.fromtimestamp(start + hours * 3600, UTC)
        document = agency_document(sim.config, database_url)
        parse_settings(document)  # fail here, not in every life, if it is wrong
        config = workdir / "agency.toml"
        config.write_text(to_toml(document), "utf-8")
        origin = datetime.fromtimestamp(start, UTC)
        command = driver_command(config, sim.url, origin, until, step)
        step_s = step.total_seconds()
        steps = int(hours * 3600 // step_s) + 1
        plan = kill_plan(kills, steps, seed)
        first = None
        if kill_after_deliveries is not None:
            first = [*command, "--kill-after-deliveries", str(kill_after_deliveries)]
        with (workdir / "driver.log").open("a") as stderr:
            lives = run_lives(command, plan, start, step_s, stderr, first)
        deliveries = sim.get("/sim/received")["deliveries"]
        truth = sim.get("/sim/truth")
    fingerprint = store_fingerprint(database_url)
    return TrialRun(fingerprint, deliveries, truth, lives, time.perf_counter() - began)


def driver_command(
    config: Path, sim_url: str, start: datetime, until: datetime, step: timedelta
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "spyagency.harness.crash_driver",
        "--config",
        str(config),
        "--sim",
        sim_url,
        "--start",
        start.isoformat(),
        "--until",
        until.isoformat(),
        "--step-minutes",
        f"{step.total_seconds() / 60:g}",
    ]


# --- judging ---------------------------------------------------------------------------------


def _sample(items: Iterable[Any], limit: int = 3) -> str:
    return "; ".join(repr(item) for item in list(items)[:limit])


def compare(reference: TrialRun, crashed: TrialRun) -> list[str]:
    """Every way ``crashed`` ended differently from ``reference`` (empty: identical)."""
    problems: list[str] = []
    for part in fields(StoreFingerprint):
        ours = Counter(getattr(crashed.fingerprint, part.name))
        theirs = Counter(getattr(reference.fingerprint, part.name))
        if ours != theirs:
            extra, missing = ours - theirs, theirs - ours
            problems.append(
                f"{part.name}: {sum(extra.values())} extra ({_sample(extra)}), "
                f"{sum(missing.values())} missing ({_sample(missing)})"
            )
    lost = reference.accepted() - crashed.accepted()
    if lost:
        problems.append(f"signals delivered without crashes but not with them: {_sample(lost)}")
    surplus = crashed.accepted() - reference.accepted()
    if surplus:
        problems.append(f"signals delivered only with crashes: {_sample(surplus)}")
    problems += [f"Tier-0: {p}" for p in tier0_differences(reference.truth, crashed.truth)]
    return problems


def tier0_differences(reference: dict[str, Any], crashed: dict[str, Any]) -> list[str]:
    """How each run was released (early, by timer, not yet), when, and what it missed.

    A release may come later by at most one dispatcher lease: a signal claimed by an engine
    that was then killed stays claimed until the lease runs out (the driver's third phase),
    as it would in production. ``release_delays`` counts those."""
    ours, theirs = _releases(crashed), _releases(reference)
    problems = []
    for run in sorted(set(ours) | set(theirs)):
        mine, other = ours.get(run), theirs.get(run)
        if mine is None or other is None or mine[0] != other[0] or mine[2] != other[2]:
            problems.append(f"run {run}: {mine} instead of {other}")
        elif not 0 <= _delay(mine[1], other[1]) <= LEASE_SLACK_S:
            problems.append(f"run {run} released at {mine[1]} instead of {other[1]}")
    return problems


def release_delays(reference: TrialRun, crashed: TrialRun) -> int:
    """Runs the Tier-0 released later than in the reference (by at most a lease)."""
    ours, theirs = _releases(crashed.truth), _releases(reference.truth)
    return sum(1 for run in set(ours) & set(theirs) if _delay(ours[run][1], theirs[run][1]) > 0)


def _releases(truth: dict[str, Any]) -> dict[int, tuple[Any, float | None, int]]:
    return {r["run"]: (r["released"], r["release_time"], len(r["missed"])) for r in truth["runs"]}


def _delay(ours: float | None, theirs: float | None) -> float:
    if ours is None or theirs is None:
        return 0.0 if ours == theirs else float("inf")
    return ours - theirs


def delivery_problems(run: TrialRun) -> list[str]:
    """Breaches of the delivery contract in one run's Tier-0 ledger: a refused delivery, or one
    decision announced under two keys. A run may legitimately be announced ready, retracted and
    ready again (three decisions, three keys), so per run the verdicts of its distinct keys, in
    order of first arrival, must change at every new key."""
    problems = [
        f"delivery refused with HTTP {d['status']}: {d}"
        for d in run.deliveries
        if d["status"] != 200
    ]
    announced: dict[int, list[tuple[str, str]]] = {}
    seen: set[str] = set()
    for delivery in run.deliveries:
        key = delivery["idempotency_key"]
        if delivery["status"] == 200 and key not in seen:
            seen.add(key)
            announced.setdefault(delivery["run"], []).append((delivery["verdict"], key))
    for run_number, decisions in sorted(announced.items()):
        for (verdict, key), (following, other) in itertools.pairwise(decisions):
            if verdict == following:
                problems.append(f"run {run_number} announced {verdict} twice: {key}, {other}")
    return problems
