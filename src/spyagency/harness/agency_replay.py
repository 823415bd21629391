"""A replay through the production engine loop, in virtual time.

The runtime is built as production builds it (``bootstrap.build_runtime``): its ``Agency``
starts as a production engine does (leader campaign, memory rebuilt from the store, one
poller per source sleeping its poll interval, the tick loop, the outbox dispatcher, the
store's housekeeping), against the simulator served in process (HTTP through an in-memory
ASGI transport; harvest files and the CondDB sqlite file on disk). Nothing of that loop is
re-implemented here: it runs unchanged on a ``VirtualTimeLoop``, where every wait ends at
once and a store transaction takes no simulated time.

The replay's ``step`` is the poll interval of every source and the engine's evaluation
interval (so a step of 10 or 30 minutes means an agency polling that often). Three periods
that the configuration gives in seconds of wall time are set to the step too, because a
replay is about simulated time: the leader's heartbeat (its lease is on the wall clock, so a
replay never loses it), and the dispatcher's idle pass (a batch that queues a signal wakes it
at once, as in production; the pass itself only retries deliveries).

The simulated world follows the loop's clock: whenever virtual time moves, the world is
brought up to the new moment before any task wakes at it (``World.advance_to``), so every
poll sees the world as it is at its instant.

At the end (the scenario's end plus ``extra_hours``, or ``hours`` after its start, rounded
down to the step's grid) the engine is stopped once everything due at that moment has run,
and the result is read as ``replay.replay`` reads it: the simulator's ground truth, the
signals, the verdicts and reasons, and what the store holds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2

from spyagency.bootstrap import Runtime, build_runtime
from spyagency.harness.replay import (
    ReplayResult,
    agency_settings,
    record_outcome,
)
from spyagency.harness.virtual_time import VirtualClock, VirtualTimeLoop, run_in_virtual_time
from spyagency.simulator import ManualClock as SimClock
from spyagency.simulator import World, build_app, load_scenario
from spyagency.simulator.scenario import Scenario


def _replay_plan(scenario: str, plan_changes: Mapping[str, Any] | None) -> Scenario:
    plan = load_scenario(scenario)
    if plan_changes:
        plan = plan.replace(**plan_changes)
    # As in ``replay.replay``: slow and hanging answers still happen, but only for a blink.
    return plan.replace(
        faults=dataclasses.replace(plan.faults, slow_delay_s=0.001, timeout_delay_s=0.002)
    )


def _count(runtime: Runtime, sample: str, labels: Mapping[str, str]) -> int:
    value = runtime.agency.metrics.registry.get_sample_value(sample, dict(labels))
    return round(value or 0.0)


def replay_agency(
    scenario: str,
    workdir: Path,
    *,
    step: timedelta = timedelta(minutes=10),
    extra_hours: float = 50.0,
    hours: float | None = None,
    policy: Mapping[str, Any] | None = None,
    progress: Callable[[float], None] | None = None,
    plan_changes: Mapping[str, Any] | None = None,
) -> ReplayResult:
    """Replay ``scenario`` through the production ``Agency`` until its end plus
    ``extra_hours`` (so lock-ins happen), or for ``hours``.

    ``plan_changes`` replaces fields of the scenario before the world is planned;
    ``progress`` is called with the fraction of the period done whenever time moves.
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
        runtime = build_runtime(settings, clock=clock, transport=transport)
        agency = runtime.agency
        agency.dispatch_seconds = seconds
        result = ReplayResult(truth={}, step=step)
        agency.listeners.append(result.account)
        running = False
        try:
            running = True
            await agency.start()
            await _sleep_until(loop, last)
            await loop.until_idle()
            running = False
            await agency.stop()
            await record_outcome(result, runtime, transport)
            _count_work(runtime, result, last, seconds)
        finally:
            if running:
                await agency.stop()
            await runtime.aclose()
            world.condb.close()
        return result

    result = run_in_virtual_time(main)
    result.wall_seconds = time.perf_counter() - began
    return result


async def _sleep_until(loop: VirtualTimeLoop, moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - loop.time()))


def _count_work(runtime: Runtime, result: ReplayResult, last: float, step: float) -> None:
    sources = [schedule.spy.source.value for schedule in runtime.agency.supervisor.schedules]
    result.polls = sum(
        _count(runtime, "spyagency_polls_total", {"source": source, "outcome": outcome})
        for source in sources
        for outcome in ("ok", "error")
    )
    result.ticks = _count(runtime, "spyagency_evaluation_seconds_count", {"kind": "tick"})
    result.grid_points = round(last / step) + 1
    result.steps = result.grid_points  # a production agency visits every one
