"""A replay: the simulator and the production engine loop on one virtual clock.

The runtime is built as production builds it (``bootstrap.build_runtime``): its ``Agency``
starts as a production engine does (leader campaign, memory rebuilt from the store, one
poller per source sleeping its poll interval, the tick loop, the outbox dispatcher, the
store's housekeeping), against the simulator served in process (HTTP through an in-memory
ASGI transport; harvest files and the CondDB sqlite file on disk). Nothing of that loop is
re-implemented here: it runs unchanged on a ``VirtualTimeLoop`` (ADR 12), where every wait
ends at once and a store transaction takes no simulated time.

The replay's ``step`` is the poll interval of every source and the engine's evaluation
interval (so a step of 10 or 30 minutes means an agency polling that often). Three periods
that the configuration gives in seconds of wall time are set to the step too, because a
replay is about simulated time: the leader's heartbeat (its lease is on the wall clock, so a
replay never loses it), and the dispatcher's idle pass (a batch that queues a signal wakes it
at once, as in production; the pass itself only retries deliveries).

The simulated world follows the loop's clock: whenever virtual time moves, the world is
brought up to the new moment before any task wakes at it (``World.advance_to``), so every
poll sees the world as it is at its instant.

An ``outage`` stops the engine for a while, as if its process were gone: the world goes on
alone, and at the end of the outage a new runtime is built on the same store and started,
so the agency's memory is rebuilt from what it had stored, as after a restart.

At the end (the scenario's end plus ``extra_hours``, or ``hours`` after its start, rounded
down to the step's grid) the engine is stopped once everything due at that moment has run,
and the replay reads the simulator's ground truth, the signals, the verdicts and reasons, and
what the store holds, so tests and benchmarks can compare what the agency decided with what
really happened.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2

from spyagency.bootstrap import Runtime, build_runtime
from spyagency.config.loading import parse_settings
from spyagency.config.settings import Settings
from spyagency.domain.policy import DEFAULT_STALE_AFTER
from spyagency.domain.states import Verdict
from spyagency.engine.batches import EvaluationResult
from spyagency.harness.virtual_time import VirtualClock, VirtualTimeLoop, run_in_virtual_time
from spyagency.simulator import ManualClock as SimClock
from spyagency.simulator import World, build_app, load_scenario
from spyagency.simulator.scenario import Scenario
from spyagency.store.events import EventKind
from spyagency.store.uow import Transaction

SIM = "http://simulator"


def simulator_sources(world: World, *, http_timeout: float = 2.0) -> dict[str, Any]:
    """The ``[sources]`` of an agency watching this in-process simulator.

    No retries: in simulated time a failed poll is simply tried again at the next poll, which
    is what retries would do in real time. An in-process HTTP request never waits on a
    network, and the simulator's "slow" and "timeout" faults last milliseconds here, so the
    HTTP timeout only keeps a busy machine from turning slow answers into source failures
    (a replay must not depend on the machine's load). The CondDB file gets no wait at all: a
    locked file is the fault being simulated.
    """
    http = {"retries": 0, "timeout_seconds": http_timeout}
    return {
        "tier0": {"url": f"{SIM}/t0wmadatasvc/prod/", **http},
        "oms": {"url": f"{SIM}/agg/api/v1/", **http},
        "harvest": {"path": str(world.harvest_dir)},
        "conddb": {"url": f"sqlite:///{world.condb.path}", "retries": 0, "timeout_seconds": 0.05},
        "upload_log": {"url": f"{SIM}/logs/dropBox/", **http},
        "dqm": {"url": f"{SIM}/dqm/offline/", **http},
        "wmstats": {"url": f"{SIM}/t0_reqmon/data/", **http},
    }


def agency_settings(
    world: World,
    workdir: Path,
    secret: str,
    policy: Mapping[str, Any] | None = None,
    *,
    step: timedelta,
) -> Settings:
    """What an agency watching this in-process simulator is configured with.

    ``step`` makes every source polled, and the engine evaluate and campaign, that often.
    The leader's heartbeat follows because its lease is on the wall clock: a campaign every
    few simulated seconds would cost much and decide nothing. Unless ``policy`` says
    otherwise, a source is stale once it has missed two polls, as an agency configured to
    poll that seldom would be (the defaults assume polls every few minutes: with 30 minute
    polls they would call every source stale between two polls).
    """
    sources = simulator_sources(world)
    seconds = step.total_seconds()
    policy_table = dict(policy or {})
    policy_table.setdefault(
        "stale_after_minutes",
        {
            source.value: max(default.total_seconds(), 2 * seconds) / 60
            for source, default in DEFAULT_STALE_AFTER.items()
        },
    )
    document: dict[str, Any] = {
        "database": {"url": f"sqlite:///{workdir / 'agency.db'}"},
        "sources": sources,
        "signals": {"webhook_url": f"{SIM}/sim/tier0/readiness", "webhook_secret": secret},
        "policy": policy_table,
        "web": {"public_url": "http://agency.invalid"},
    }
    for source in sources.values():
        source["poll_interval_seconds"] = seconds
    document["engine"] = {"evaluate_interval_seconds": seconds, "heartbeat_seconds": seconds}
    return parse_settings(document)


@dataclass
class SignalRecord:
    run: int
    verdict: Verdict
    decided_at: datetime


@dataclass
class ReplayResult:
    truth: dict[str, Any]
    signals: list[SignalRecord] = field(default_factory=list)
    verdicts: dict[int, Verdict] = field(default_factory=dict)
    reasons: dict[int, tuple[str, ...]] = field(default_factory=dict)
    wall_seconds: float = 0.0
    step: timedelta = timedelta(minutes=10)
    polls: int = 0  # polls sent, by the engine's own count (failed ones included)
    ticks: int = 0
    grid_points: int = 0  # poll moments in the period: every source is polled at each
    news: int = 0  # observations the engine stored, by its own batches' count
    alerts_opened: int = 0
    alerts_resolved: int = 0
    # What the store holds at the end, to account for every batch's count above.
    stored: dict[str, int] = field(default_factory=dict)

    def account(self, batch: EvaluationResult) -> None:
        self.news += batch.news
        self.alerts_opened += batch.alerts_opened
        self.alerts_resolved += batch.alerts_resolved

    def truth_of(self, run: int) -> dict[str, Any]:
        return next(r for r in self.truth["runs"] if r["run"] == run)


async def record_outcome(
    result: ReplayResult, runtime: Runtime, simulator: httpx2.AsyncBaseTransport
) -> None:
    """What every replay ends with: the simulator's truth, the signals sent, each run's
    verdict and reasons as stored (the evaluator's memory over them: final runs leave it),
    and the store's counts."""
    async with httpx2.AsyncClient(transport=simulator, base_url=SIM) as client:
        answer = await client.get("/sim/truth")
        answer.raise_for_status()
        result.truth = answer.json()
    result.signals = read_signals(runtime)
    with runtime.store.read() as tx:
        for record in tx.states.list_runs(limit=None):
            result.reasons[record.run] = record.assessment.reasons
            result.verdicts[record.run] = record.verdict
        result.stored = stored_counts(tx)
    result.verdicts.update(runtime.agency.evaluator.verdicts)


def read_signals(runtime: Runtime) -> list[SignalRecord]:
    found = []
    with runtime.store.read() as tx:
        for latest in tx.signals.all_latest():
            for record in tx.signals.for_run(latest.run):
                found.append(SignalRecord(record.run, Verdict(record.verdict), record.decided_at))
    return sorted(found, key=lambda s: (s.decided_at, s.run))


def stored_counts(tx: Transaction) -> dict[str, int]:
    alerts = tx.alerts.history(limit=10**7)
    alert_events = [e for e in tx.events.since(0, limit=10**8) if e.kind == EventKind.ALERT]
    return {
        "observations": tx.observations.count(),
        "alerts": len(alerts),
        "alerts_resolved": sum(1 for a in alerts if a.resolved_at is not None),
        "alert_events_firing": sum(1 for e in alert_events if e.new == "firing"),
        "alert_events_resolved": sum(1 for e in alert_events if e.new == "resolved"),
    }


def _replay_plan(scenario: str, plan_changes: Mapping[str, Any] | None) -> Scenario:
    plan = load_scenario(scenario)
    if plan_changes:
        plan = plan.replace(**plan_changes)
    # Wall-clock delays mean nothing when time is simulated: slow and hanging answers still
    # happen, but only for a blink (timeouts are proven over real sockets elsewhere).
    return plan.replace(
        faults=dataclasses.replace(plan.faults, slow_delay_s=0.001, timeout_delay_s=0.002)
    )


def replay(
    scenario: str,
    workdir: Path,
    *,
    step: timedelta = timedelta(minutes=10),
    extra_hours: float = 50.0,
    hours: float | None = None,
    policy: Mapping[str, Any] | None = None,
    progress: Callable[[float], None] | None = None,
    plan_changes: Mapping[str, Any] | None = None,
    outage: tuple[float, float] | None = None,
) -> ReplayResult:
    """Replay ``scenario`` through the production ``Agency`` until its end plus
    ``extra_hours`` (so lock-ins happen), or for ``hours``.

    ``plan_changes`` replaces fields of the scenario (a shorter ``duration_s``, other
    ``faults``) before the world is planned; ``progress`` is called with the fraction of the
    period done whenever time moves; ``outage`` (hours after the start, from and until) stops
    the engine for that while and restarts it on its store.
    """
    began = time.perf_counter()
    plan = _replay_plan(scenario, plan_changes)
    seconds = step.total_seconds()
    duration = hours * 3600 if hours is not None else plan.duration_s + extra_hours * 3600
    # The last moment on the poll grid within the period: the final state is judged there.
    last = math.floor(duration / seconds + 1e-9) * seconds

    async def main(loop: VirtualTimeLoop) -> ReplayResult:
        world = World(plan, workdir / "simulator")
        sim_clock = SimClock(plan.start)

        def follow(moment: float) -> None:
            # Loop time counts seconds from the scenario's start.
            simulated = plan.start + moment
            sim_clock.set(simulated)
            world.advance_to(simulated)
            if progress is not None:
                progress(min(1.0, moment / last) if last > 0 else 1.0)

        world.advance_to(plan.start)
        loop.add_time_listener(follow)
        transport = httpx2.ASGITransport(app=build_app(world, sim_clock))
        clock = VirtualClock(loop, datetime.fromtimestamp(plan.start, UTC))
        settings = agency_settings(world, workdir, plan.readiness.secret, policy, step=step)
        result = ReplayResult(truth={}, step=step)
        lives = [(0.0, last)]
        if outage is not None:
            away, back = (min(last, hour * 3600) for hour in outage)
            lives = [(0.0, away), (back, last)]
        try:
            for life, (begin, end) in enumerate(lives, start=1):
                await _sleep_until(loop, begin)
                runtime = build_runtime(settings, clock=clock, transport=transport)
                try:
                    await _live(runtime, result, loop, end, seconds)
                    if life == len(lives):
                        await record_outcome(result, runtime, transport)
                finally:
                    await runtime.aclose()
        finally:
            world.condb.close()
        result.grid_points = round(last / seconds) + 1
        return result

    result = run_in_virtual_time(main)
    result.wall_seconds = time.perf_counter() - began
    return result


async def _live(
    runtime: Runtime, result: ReplayResult, loop: VirtualTimeLoop, end: float, step: float
) -> None:
    """One life of the engine: start it, let it work until ``end``, stop it once everything
    due then has run, and add its work to the result."""
    agency = runtime.agency
    agency.dispatch_seconds = step
    agency.listeners.append(result.account)
    try:
        await agency.start()
        await _sleep_until(loop, end)
        await loop.until_idle()
    finally:
        await agency.stop()
    sources = [schedule.spy.source.value for schedule in agency.supervisor.schedules]
    result.polls += sum(
        _count(runtime, "spyagency_polls_total", {"source": source, "outcome": outcome})
        for source in sources
        for outcome in ("ok", "error")
    )
    result.ticks += _count(runtime, "spyagency_evaluation_seconds_count", {"kind": "tick"})


async def _sleep_until(loop: VirtualTimeLoop, moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - loop.time()))


def _count(runtime: Runtime, sample: str, labels: Mapping[str, str]) -> int:
    value = runtime.agency.metrics.registry.get_sample_value(sample, dict(labels))
    return round(value or 0.0)
