"""An in-process replay: the simulator and the agency on one manual clock, no sleeping.

Simulated time moves on a grid of ``step`` (every source's poll interval): the agency polls at
``start + k * step``, as an agency polling every ``step`` would. At a visited grid point:

1. both clocks are set to its time and the simulator materialises everything due by then;
2. every spy whose answers may have changed polls the simulator over its real protocol (HTTP
   through an in-memory ASGI transport; harvest files and the CondDB sqlite file on disk);
   each report is folded into the engine's memory at once (the next spy's scope sees it);
3. the engine stores the grid point's reports and judges the runs they touched in one
   transaction, ticking in the same batch when a deadline has come (or a source failed or
   recovered); ``batch=False`` makes each report its own batch and the tick another;
4. the outbox dispatcher delivers signals to the simulated Tier-0's webhook, HMAC-signed,
   which may release the run early.

Event-driven (the default): a spy polls only when its answers may differ from its previous
poll: the simulator says its view changed since then (``World.changed_since``; OMS's running
counters are left out, the OMS spy reads none), the part of the engine's poll scope that the
spy reads changed (``scope_key``), or the previous poll failed.
A skipped poll would have returned what the previous one did, so its only trace, a successful
health record, is written instead (``Evaluator.stage_unchanged``; ``record_unchanged_polls``
without batching) before anything is judged. Grid points where no source changed and no
deadline falls are not visited at all; the next one visited is the first at or after the
next world event, deadline or retry. A change is therefore seen at the first poll of its
source at or after it, as with ``mode="fixed"``, which visits every grid point and polls
every spy (the old, slow, literal loop). A tick re-judges only the runs one of whose
deadlines has passed since their last judgement (every run when a source turned stale or
fresh): the others would be judged as before.

At the end it reads the simulator's ground truth, so tests and benchmarks can compare what the
agency decided with what really happened.

This stepper re-implements the engine's loop for speed. The production loop itself replays
through ``harness/agency_replay.py`` in virtual time, and is the reference (ADR 12): the
stepper reaches its verdicts and signals, up to a poll interval per hop of the spy chain
sooner, because it polls the spies in turn where production pollers run side by side.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx2

from spyagency.bootstrap import Runtime, build_runtime
from spyagency.config.loading import parse_settings
from spyagency.config.settings import Settings
from spyagency.domain.clock import ManualClock
from spyagency.domain.health import stale_sources
from spyagency.domain.states import Source, Verdict
from spyagency.engine.evaluator import EvaluationResult, Evaluator
from spyagency.engine.polling import Schedule, poll_once
from spyagency.harness.deadlines import next_time_change, runs_due
from spyagency.simulator import ManualClock as SimClock
from spyagency.simulator import World, build_app, load_scenario
from spyagency.spies.scope import PollScope
from spyagency.spies.scope_reads import scope_key
from spyagency.store.events import EventKind
from spyagency.store.uow import Transaction

SIM = "http://simulator"
# The simulator's name for the view each source reads.
SERVICE_OF = {
    Source.TIER0: "t0",
    Source.OMS: "oms",
    Source.HARVEST: "harvest",
    Source.CONDDB: "conddb",
    Source.UPLOAD_LOG: "logs",
    Source.DQM: "dqm",
    Source.WMSTATS: "wmstats",
}
Mode = Literal["events", "fixed"]


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
    step: timedelta | None = None,
) -> Settings:
    """What an agency watching this in-process simulator is configured with.

    ``step`` makes every source polled, and the engine evaluate and campaign, that often (an
    agency run by its own loop in virtual time; the stepper polls on its grid whatever the
    settings say). The leader's heartbeat follows because its lease is on the wall clock:
    a campaign every few simulated seconds would cost much and decide nothing.
    """
    sources = simulator_sources(world)
    document: dict[str, Any] = {
        "database": {"url": f"sqlite:///{workdir / 'agency.db'}"},
        "sources": sources,
        "signals": {"webhook_url": f"{SIM}/sim/tier0/readiness", "webhook_secret": secret},
        "policy": dict(policy or {}),
        "web": {"public_url": "http://agency.invalid"},
    }
    if step is not None:
        seconds = step.total_seconds()
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
    steps: int = 0  # grid points visited
    observations: int = 0  # observations reported by the spies (news or not)
    wall_seconds: float = 0.0
    step: timedelta = timedelta(minutes=10)
    polls: int = 0  # real polls sent
    skipped_polls: int = 0  # polls known to answer as before, recorded as health only
    ticks: int = 0
    grid_points: int = 0  # grid points in the period (visited or not)
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


@dataclass
class _Watch:
    """What the replay remembers of one source's last real poll."""

    polled_at: tuple[float, int] | None = None  # the world's change mark at that poll
    ok: bool = False
    scope: Hashable = None  # what the spy read of its scope (``scope_key``)


class _Stepper:
    """One replay's loop state: the grid, the watches, the next deadline."""

    def __init__(
        self,
        world: World,
        runtime: Runtime,
        clock: ManualClock,
        start: float,
        step: float,
        batch: bool,
    ) -> None:
        self.world = world
        self.batch = batch
        self.runtime = runtime
        self.evaluator: Evaluator = runtime.agency.evaluator
        self.schedules: list[Schedule] = runtime.agency.supervisor.schedules
        self.clock = clock
        self.start = start
        self.step = step
        self.watch = {s.spy.source: _Watch() for s in self.schedules}
        self.next_tick: datetime | None = None
        self.tick_now = True  # the first visit ticks
        # When each open run was last judged, and what every judgement shared at the last
        # batch (stale sources, overrides): a tick re-judges only the runs a moment of which
        # has passed since (``runs_due``), unless what they shared changed.
        self.judged_at: dict[int, datetime] = {}
        self.shared: Hashable = None
        self.pending_delivery = False

    def slot_at_or_after(self, t: float) -> float:
        return self.start + math.ceil((t - self.start) / self.step - 1e-9) * self.step

    def needs_poll(self, schedule: Schedule, scope: PollScope) -> bool:
        watch = self.watch[schedule.spy.source]
        if (
            watch.polled_at is None
            or not watch.ok
            or watch.scope != scope_key(schedule.spy.source, scope)
        ):
            return True
        # The OMS spy reads no running counter (see ``RunInfo``): for it, OMS changes only
        # when a run starts or ends, both events, not at every step while a run goes on.
        service = SERVICE_OF[schedule.spy.source]
        return self.world.changed_since(service, watch.polled_at, counters=False)

    def shared_context(self, now: datetime) -> Hashable:
        """What every run's judgement reads besides its own knowledge and moments: the stale
        sources and the overrides (the latter as of the last tick: a replay places none)."""
        policy = self.evaluator.policy
        stale = stale_sources(
            self.evaluator.health, now, policy.stale_after, policy.critical_sources
        )
        return tuple(stale), tuple(self.evaluator.overrides)

    def quiet_sources(self, t: float) -> list[Source]:
        """Sources whose polls since the last one were skipped as unchanged (healthy ones
        not polled during the last step)."""
        quiet = []
        for source, watch in self.watch.items():
            health = self.evaluator.health.get(source)
            if not watch.ok or health is None or health.last_success is None:
                continue
            if health.last_success.timestamp() <= t - self.step:
                quiet.append(source)
        return quiet

    def record_quiet(self, t: float, now: datetime) -> int:
        """Carry the health of sources left unpolled this slot (see the module docstring)."""
        quiet = self.quiet_sources(t)
        if quiet:
            self.evaluator.record_unchanged_polls(quiet, now)
        return len(quiet)

    async def visit(self, t: float, result: ReplayResult, mode: Mode) -> None:
        now = self.clock.now()
        scope = self.evaluator.scope()
        wanted = [s for s in self.schedules if mode == "fixed" or self.needs_poll(s, scope)]
        due = self.tick_now or (self.next_tick is not None and self.next_tick <= now)
        if mode == "events" and (wanted or due):
            if self.batch:
                quiet = self.quiet_sources(t)
                self.evaluator.stage_unchanged(quiet)
                result.skipped_polls += len(quiet)
            else:
                result.skipped_polls += self.record_quiet(t, now)
        polled = False
        for schedule in self.schedules:
            scope = self.evaluator.scope()
            if mode == "events" and not self.needs_poll(schedule, scope):
                continue
            mark = self.world.change_mark()
            report = await poll_once(schedule.spy, scope, 60.0, self.clock.now)
            result.polls += 1
            result.observations += len(report.observations)
            watch = self.watch[schedule.spy.source]
            if report.ok != watch.ok and watch.polled_at is not None:
                due = True  # a source failed or recovered: its alerts move on a tick
            watch.polled_at, watch.ok, watch.scope = (
                mark,
                report.ok,
                scope_key(schedule.spy.source, scope),
            )
            if self.batch:
                self.evaluator.stage(report)
            else:
                result.account(self.evaluator.ingest(report))
            polled = True
        tick = mode == "fixed" or due
        if self.batch and (polled or tick or wanted):
            shared = self.shared_context(now)
            tick_runs = None
            if shared != self.shared:
                tick = True  # a source turned stale or fresh: every run is judged again
            elif tick and mode == "events" and not self.tick_now:
                tick_runs = runs_due(
                    self.evaluator.assessments,
                    self.judged_at,
                    self.evaluator.alerts.state_since,
                    self.evaluator.policy,
                    now,
                )
            self.shared = shared
            batch = self.evaluator.commit(tick=tick, tick_runs=tick_runs)
            for assessment in batch.assessments:
                self.judged_at[assessment.run] = now
            result.account(batch)
        elif tick:
            result.account(self.evaluator.tick())
        if tick:
            result.ticks += 1
        self.pending_delivery = self.pending_delivery or polled or tick
        self.tick_now = False
        if self.pending_delivery:
            with self.runtime.store.read() as tx:
                waiting = tx.outbox.pending_count() > 0
            if waiting:  # the dispatcher's claim is a write: only when there is mail
                await self.runtime.agency.dispatcher.dispatch_once()
                with self.runtime.store.read() as tx:
                    waiting = tx.outbox.pending_count() > 0
            self.pending_delivery = waiting
        self.next_tick = next_time_change(
            self.evaluator.assessments.values(),
            self.evaluator.alerts.state_since,
            self.evaluator.health,
            self.evaluator.overrides,
            self.evaluator.policy,
            now,
        )

    def next_visit(self, t: float) -> float:
        """The next grid point where anything may happen (always later than ``t``)."""
        following = t + self.step
        if self.pending_delivery or any(not w.ok for w in self.watch.values()):
            return following
        scope = self.evaluator.scope()
        if any(self.needs_poll(s, scope) for s in self.schedules):
            return following  # changed by this visit (a signal released a run) or its scope
        moments = [self.world.next_event_time()]
        if self.next_tick is not None:
            moments.append(self.next_tick.timestamp())
        new_year = datetime(datetime.fromtimestamp(t, UTC).year + 1, 1, 1, tzinfo=UTC)
        moments.append(new_year.timestamp())
        known = [m for m in moments if m is not None]
        return max(following, self.slot_at_or_after(min(known))) if known else math.inf


async def replay(
    scenario: str,
    workdir: Path,
    *,
    step: timedelta = timedelta(minutes=10),
    extra_hours: float = 50.0,
    hours: float | None = None,
    policy: Mapping[str, Any] | None = None,
    progress: Callable[[float], None] | None = None,
    mode: Mode = "events",
    plan_changes: Mapping[str, Any] | None = None,
    batch: bool = True,
    outage: tuple[float, float] | None = None,
) -> ReplayResult:
    """Replay ``scenario`` until its end plus ``extra_hours`` (so lock-ins happen).

    ``plan_changes`` replaces fields of the scenario (a shorter ``duration_s``, other
    ``faults``) before the world is planned. ``batch`` makes the reports of one grid point
    one evaluator batch (``Evaluator.stage``/``commit``); without it each report is its own
    batch and the tick another, as a live agency's pollers would hand them in. ``outage``
    (hours after the start, from and until) leaves the world to itself: the agency neither
    polls nor judges nor signals, and when it comes back its memory is rebuilt from the store,
    as after a restart.
    """
    began = time.perf_counter()
    plan = load_scenario(scenario)
    if plan_changes:
        plan = plan.replace(**plan_changes)
    # Wall-clock delays mean nothing when time is simulated: slow and hanging answers still
    # happen, but only for a blink (timeouts are proven over real sockets elsewhere).
    plan = plan.replace(
        faults=dataclasses.replace(plan.faults, slow_delay_s=0.001, timeout_delay_s=0.002)
    )
    world = World(plan, workdir / "simulator")
    start = plan.start
    end = start + (hours * 3600 if hours is not None else plan.duration_s + extra_hours * 3600)
    sim_clock = SimClock(start)
    app = build_app(world, sim_clock)
    transport = httpx2.ASGITransport(app=app)
    clock = ManualClock(datetime.fromtimestamp(start, UTC))
    settings = agency_settings(world, workdir, plan.readiness.secret, policy)
    runtime = build_runtime(settings, clock=clock, transport=transport)
    evaluator = runtime.agency.evaluator
    evaluator.load()
    stepper = _Stepper(world, runtime, clock, start, step.total_seconds(), batch)
    last = stepper.slot_at_or_after(end + 1e-6) - step.total_seconds()  # last grid point <= end
    result = ReplayResult(truth={}, step=step)
    result.grid_points = round((last - start) / step.total_seconds()) + 1
    away = False
    try:
        t = start
        while t <= last:
            sim_clock.set(t)
            clock.set(datetime.fromtimestamp(t, UTC))
            world.advance_to(t)
            if (
                outage is not None
                and t < last
                and start + outage[0] * 3600 <= t < start + outage[1] * 3600
            ):
                away = True
                t = min(last, stepper.slot_at_or_after(start + outage[1] * 3600))
                continue
            if away:
                # Back from the outage: memory is rebuilt from the store, as after a restart.
                away = False
                evaluator.reload()
                stepper = _Stepper(world, runtime, clock, start, step.total_seconds(), batch)
            stepper.tick_now = stepper.tick_now or t == last
            await stepper.visit(t, result, mode)
            result.steps += 1
            if progress is not None:
                progress((t - start) / (end - start))
            following = t + step.total_seconds() if mode == "fixed" else stepper.next_visit(t)
            # The last grid point is always visited: the final state is judged there.
            t = last if t < last < following else following
        if mode == "events":
            # The polls skipped since each source's last visit: their health, as of the end.
            clock.set(datetime.fromtimestamp(last, UTC))
            stepper.record_quiet(last + step.total_seconds(), clock.now())
        await record_outcome(result, runtime, transport)
    finally:
        await runtime.aclose()
        world.condb.close()
    result.wall_seconds = time.perf_counter() - began
    return result
