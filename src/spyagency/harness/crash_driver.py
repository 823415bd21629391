"""One life of an engine under a crash test: the agency driven step by step against a simulator
on a manual clock, so that it can be killed (SIGKILL) at any moment and simply started again.

``python -m spyagency.harness.crash_driver --config agency.toml --sim URL --start ISO
--until ISO --step-minutes 10``

The simulator owns simulated time and the driver moves it, only once a phase is finished. Each
step (starting at ``start + k * step``) has three phases, each at its own simulated moment:

1. observe, at the step's start: poll every spy once and ingest the reports as one batch
   (one store transaction), then tick (judge, decide signals into the outbox). Every spy gets the
   poll scope of the step's start, journalled to a file before the first poll: a redone
   phase asks exactly the questions the first attempt asked, not more because it already
   knows what the first attempt ingested (a stopped run, new streams);
2. deliver, one second later: dispatch the outbox once (readiness webhooks to the Tier-0);
3. deliver again, once a dispatcher lease has run out: whatever a killed predecessor had
   claimed but not sent is free again, and goes out now, within the step, as it would two
   minutes after a crash in production;

then the simulator moves to the next phase (``POST /sim/advance`` to an absolute time, so a
request repeated or lost in a crash does no harm). The phase is read from the simulator's time
on the step grid, so a driver killed anywhere simply redoes the phase it was in: polls are
idempotent, ingest stores only news, decisions and outbox rows are keyed. Delivering at a
moment of its own keeps a redone observation from seeing the Tier-0's reaction to signals
that an uninterrupted engine sends only after observing.

It writes one line per milestone to stdout, flushed at once, so that a parent can choose when
to kill it: ``ready`` (store loaded), ``step <unix seconds>`` (an observe phase begins),
``deliver <unix seconds>``, ``done``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pickle
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2

from spyagency.bootstrap import Runtime, build_runtime
from spyagency.config.loading import load_settings
from spyagency.domain.clock import ManualClock
from spyagency.engine.delivery import LEASE
from spyagency.engine.polling import poll_once
from spyagency.signalers.channel import Channel, Delivery, DeliveryResult, OutboundMessage
from spyagency.spies.scope import PollScope

POLL_DEADLINE_S = 60.0
SIM_TIMEOUT_S = 30.0
DELIVER = timedelta(seconds=1)
REDELIVER = DELIVER + LEASE + timedelta(seconds=1)


@dataclass(frozen=True)
class DriverOptions:
    config: Path
    sim_url: str
    start: datetime | None
    until: datetime
    step: timedelta
    journal: Path
    kill_after_deliveries: int | None = None


class KillAfterDelivery:
    """A channel that kills its own process right after its ``n``-th successful delivery, before
    the outbox can record it: the receiver has the message, the store does not know.

    This is the one crash point that random kills rarely hit, and the one that tests whether a
    restarted engine repeats a delivery under the same key (and never under another).
    """

    def __init__(self, inner: Channel, n: int) -> None:
        self.inner = inner
        self.name = inner.name
        self.remaining = n

    async def send(self, message: OutboundMessage) -> DeliveryResult:
        result = await self.inner.send(message)
        if result.outcome is Delivery.DELIVERED:
            self.remaining -= 1
            if self.remaining <= 0:
                announce(f"killing myself after delivering {message.idempotency_key}")
                os.kill(os.getpid(), signal.SIGKILL)
        return result

    async def aclose(self) -> None:
        await self.inner.aclose()


def announce(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def simulated_now(sim: httpx2.AsyncClient) -> float:
    answer = await sim.get("/sim/clock")
    answer.raise_for_status()
    clock = answer.json()
    if clock["speed"] != 0:
        raise RuntimeError("the simulator's clock must be manual (speed 0)")
    # A manual clock reports its current instant as the origin, as an exact float.
    return float(clock["origin_sim"])


async def advance_to(sim: httpx2.AsyncClient, moment: datetime) -> None:
    answer = await sim.post("/sim/advance", json={"to": moment.isoformat()})
    answer.raise_for_status()


class ScopeJournal:
    """The poll scope of the step being observed, kept in a file so that a later life redoing
    the step polls with the same scope. Written before any of the step's reports is ingested
    (write, then rename: a file is whole or absent), so a missing file means that nothing of
    the step reached the store yet and the scope can be computed afresh."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, moment: datetime) -> Path:
        return self.directory / f"scope-{moment.timestamp():.0f}.pickle"

    def scope_at(self, moment: datetime, compute: Callable[[], PollScope]) -> PollScope:
        path = self._path(moment)
        if path.exists():
            # Our own file, written by an earlier life of this driver.
            scope: PollScope = pickle.loads(path.read_bytes())  # noqa: S301
            return scope
        scope = compute()
        partial = path.with_suffix(".part")
        partial.write_bytes(pickle.dumps(scope))
        os.replace(partial, path)
        for older in self.directory.glob("scope-*.pickle"):
            if older != path:
                older.unlink()
        return scope


async def observe(runtime: Runtime, journal: ScopeJournal) -> None:
    """Phase 1: poll, ingest, tick, at the clock's current time.

    The reports go in through the agency's own batch path (``Agency.ingest``: group commit,
    the evaluator's lock and worker thread, its listeners), handed in together so that group
    commit makes them one batch, and the tick through ``Agency.tick``, as in production; only
    the schedule is the driver's, so that a kill falls between known phases. One batch per
    phase: a kill leaves either all of a phase's reports stored or none, and the redone phase
    judges exactly what the first attempt would have (with a batch per report, a kill between
    two of them made a redone phase skip the intermediate states the uninterrupted run
    recorded, such as ``upload_attempted`` between ``harvested`` and ``in_db``).
    """
    agency = runtime.agency
    scope = journal.scope_at(runtime.clock.now(), agency.evaluator.scope)
    reports = [
        await poll_once(schedule.spy, scope, POLL_DEADLINE_S, runtime.clock.now)
        for schedule in agency.supervisor.schedules
    ]
    await asyncio.gather(*(agency.ingest(report) for report in reports))
    await agency.tick()


def phase_of(now: datetime, origin: datetime, step: timedelta) -> tuple[datetime, timedelta]:
    """The start of the step ``now`` falls in, and how far into it ``now`` is."""
    offset = (now - origin) % step
    return now - offset, offset


def arm_kill_switch(runtime: Runtime, deliveries: int) -> None:
    dispatcher = runtime.agency.dispatcher
    dispatcher.channels = {
        name: KillAfterDelivery(channel, deliveries)
        for name, channel in dispatcher.channels.items()
    }


async def drive(options: DriverOptions) -> int:
    """Run phases until the simulator's time is in a step past ``until``; the phases run."""
    if options.step <= REDELIVER:
        raise ValueError(f"a step must be longer than {REDELIVER}")
    settings = load_settings(options.config)
    phases = 0
    async with httpx2.AsyncClient(base_url=options.sim_url, timeout=SIM_TIMEOUT_S) as sim:
        first = datetime.fromtimestamp(await simulated_now(sim), UTC)
        origin = options.start or first
        clock = ManualClock(first)
        runtime = build_runtime(settings, clock=clock)
        dispatcher = runtime.agency.dispatcher
        journal = ScopeJournal(options.journal)
        try:
            runtime.agency.evaluator.load()
            if options.kill_after_deliveries is not None:
                arm_kill_switch(runtime, options.kill_after_deliveries)
            announce("ready")
            while True:
                now = datetime.fromtimestamp(await simulated_now(sim), UTC)
                step_start, offset = phase_of(now, origin, options.step)
                if step_start > options.until:
                    break
                clock.set(now)
                if offset == timedelta(0):
                    announce(f"step {now.timestamp():.0f}")
                    await observe(runtime, journal)
                    following = step_start + DELIVER
                elif offset in (DELIVER, REDELIVER):
                    announce(f"deliver {now.timestamp():.0f}")
                    await dispatcher.dispatch_once()
                    following = step_start + (REDELIVER if offset == DELIVER else options.step)
                else:
                    raise RuntimeError(f"simulated time {now} is off the step grid")
                phases += 1
                await advance_to(sim, following)
        finally:
            await runtime.aclose()
    announce("done")
    return phases


def parse_moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_options(argv: list[str] | None = None) -> DriverOptions:
    parser = argparse.ArgumentParser(
        description="Drive the agency step by step against a simulator on a manual clock."
    )
    parser.add_argument("--config", required=True, type=Path, help="agency TOML configuration")
    parser.add_argument("--sim", required=True, help="base URL of the simulator")
    parser.add_argument(
        "--start", default=None, help="origin of the step grid (ISO-8601; default: now)"
    )
    parser.add_argument("--until", required=True, help="last step's start, at most (ISO-8601)")
    parser.add_argument("--step-minutes", type=float, default=10.0, help="simulated step")
    parser.add_argument(
        "--journal",
        type=Path,
        default=None,
        help="directory for the step's poll scope (default: the configuration's)",
    )
    parser.add_argument(
        "--kill-after-deliveries",
        type=int,
        default=None,
        help="SIGKILL this process right after its N-th delivery, before the store records it",
    )
    args = parser.parse_args(argv)
    return DriverOptions(
        config=args.config,
        sim_url=args.sim,
        start=parse_moment(args.start) if args.start else None,
        until=parse_moment(args.until),
        step=timedelta(minutes=args.step_minutes),
        journal=args.journal or args.config.parent,
        kill_after_deliveries=args.kill_after_deliveries,
    )


def main(argv: list[str] | None = None) -> int:
    asyncio.run(drive(parse_options(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
