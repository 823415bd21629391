"""An in-process replay: the simulator and the agency on one manual clock, no sleeping.

``replay`` moves simulated time in fixed steps. At each step:

1. both clocks are set to the step's time (the simulator advances its world on every request);
2. every spy polls the simulator over its real protocol (HTTP through an in-memory ASGI
   transport; harvest files and the CondDB sqlite file on disk) and the engine ingests each
   report in one transaction;
3. the engine ticks (deadlines and staleness move with time);
4. the outbox dispatcher delivers signals to the simulated Tier-0's webhook, HMAC-signed,
   which may release the run early.

At the end it reads the simulator's ground truth, so tests and benchmarks can compare what the
agency decided with what really happened.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2

from spyagency.bootstrap import Runtime, build_runtime
from spyagency.config import Settings, parse_settings
from spyagency.domain.clock import ManualClock
from spyagency.domain.states import Verdict
from spyagency.engine.polling import poll_once
from spyagency.simulator import ManualClock as SimClock
from spyagency.simulator import World, build_app, load_scenario

SIM = "http://simulator"


def agency_settings(
    world: World, workdir: Path, secret: str, policy: Mapping[str, Any] | None = None
) -> Settings:
    """What an agency watching this in-process simulator is configured with."""
    # No retries and no waiting on a locked file: in simulated time a failed poll is simply
    # tried again at the next step, which is what retries would do in real time.
    fast = {"retries": 0, "timeout_seconds": 0.05}
    document: dict[str, Any] = {
        "database": {"url": f"sqlite:///{workdir / 'agency.db'}"},
        "sources": {
            "tier0": {"url": f"{SIM}/t0wmadatasvc/prod/", **fast},
            "oms": {"url": f"{SIM}/agg/api/v1/", **fast},
            "harvest": {"path": str(world.harvest_dir)},
            "conddb": {"url": f"sqlite:///{world.condb.path}", **fast},
            "upload_log": {"url": f"{SIM}/logs/dropBox/", **fast},
            "dqm": {"url": f"{SIM}/dqm/offline/", **fast},
            "wmstats": {"url": f"{SIM}/t0_reqmon/data/", **fast},
        },
        "signals": {"webhook_url": f"{SIM}/sim/tier0/readiness", "webhook_secret": secret},
        "policy": dict(policy or {}),
        "web": {"public_url": "http://agency.invalid"},
    }
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
    steps: int = 0
    observations: int = 0
    wall_seconds: float = 0.0
    step: timedelta = timedelta(minutes=10)

    def truth_of(self, run: int) -> dict[str, Any]:
        return next(r for r in self.truth["runs"] if r["run"] == run)


def _signals(runtime: Runtime) -> list[SignalRecord]:
    found = []
    with runtime.store.read() as tx:
        for latest in tx.signals.all_latest():
            for record in tx.signals.for_run(latest.run):
                found.append(SignalRecord(record.run, Verdict(record.verdict), record.decided_at))
    return sorted(found, key=lambda s: (s.decided_at, s.run))


async def replay(
    scenario: str,
    workdir: Path,
    *,
    step: timedelta = timedelta(minutes=10),
    extra_hours: float = 50.0,
    hours: float | None = None,
    policy: Mapping[str, Any] | None = None,
    progress: Callable[[float], None] | None = None,
) -> ReplayResult:
    """Replay ``scenario`` until its end plus ``extra_hours`` (so lock-ins happen)."""
    began = time.perf_counter()
    plan = load_scenario(scenario)
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
    agency = runtime.agency
    evaluator = agency.evaluator
    evaluator.load()
    schedules = agency.supervisor.schedules
    result = ReplayResult(truth={}, step=step)
    try:
        t = start
        while t <= end:
            sim_clock.set(t)
            clock.set(datetime.fromtimestamp(t, UTC))
            for schedule in schedules:
                report = await poll_once(schedule.spy, evaluator.scope(), 60.0, clock.now)
                result.observations += len(report.observations)
                evaluator.ingest(report)
            evaluator.tick()
            await agency.dispatcher.dispatch_once()
            result.steps += 1
            if progress is not None:
                progress((t - start) / (end - start))
            t += step.total_seconds()
        async with httpx2.AsyncClient(transport=transport, base_url=SIM) as client:
            answer = await client.get("/sim/truth")
            answer.raise_for_status()
            result.truth = answer.json()
        result.signals = _signals(runtime)
        result.verdicts = dict(evaluator.verdicts)
        with runtime.store.read() as tx:
            for record in tx.states.list_runs(limit=None):
                result.reasons[record.run] = record.assessment.reasons
    finally:
        for schedule in schedules:
            await schedule.spy.aclose()
        await runtime.aclose()
    result.wall_seconds = time.perf_counter() - began
    return result
