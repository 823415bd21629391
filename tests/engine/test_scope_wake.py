"""A batch that changes what another spy would ask wakes that spy at once: the chain
WMStats -> harvest -> upload log -> CondDB goes hop by hop at the speed of the reports, not one
poll interval per hop. A spy whose questions did not change sleeps on."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from spyagency.domain.clock import ManualClock
from spyagency.domain.facts import RunInfo
from spyagency.domain.observation import Observation
from spyagency.domain.states import Source
from spyagency.engine.agency import Agency
from spyagency.engine.delivery import Dispatcher
from spyagency.engine.polling import Schedule, Supervisor
from spyagency.spies.scope import PollScope, SpyReport
from spyagency.store.uow import Store
from tests.engine.conftest import make_evaluator

HOUR_S = 3600.0
RUN = 390001


class ScriptedSpy:
    """A spy that answers from a script, one report per poll, and remembers what it was
    asked (the scope of each poll)."""

    def __init__(self, source: Source, clock: ManualClock, script: list[list[object]]) -> None:
        self.source = source
        self.clock = clock
        self.script = script
        self.asked: list[PollScope] = []
        self.polled = asyncio.Event()

    async def poll(self, scope: PollScope) -> SpyReport:
        self.asked.append(scope)
        self.polled.set()
        facts = self.script.pop(0) if self.script else []
        now = self.clock.now()
        report = SpyReport(self.source, now, now)
        report.observations = [Observation(self.source, now, fact) for fact in facts]  # type: ignore[arg-type]
        return report

    async def aclose(self) -> None:
        return None


async def polls(spy: ScriptedSpy, count: int) -> None:
    while len(spy.asked) < count:
        spy.polled.clear()
        await asyncio.wait_for(spy.polled.wait(), 20)


def scripted_agency(store: Store, clock: ManualClock, spies: list[ScriptedSpy]) -> Agency:
    """An agency polling ``spies`` (in that order) every hour, ticking as seldom."""
    schedules = [Schedule(spy, HOUR_S, 60.0) for spy in spies]
    return Agency(
        make_evaluator(store, clock, alert_channels=()),
        Dispatcher(store, {}, clock, worker="solo"),
        lambda agency: Supervisor(schedules, agency.scope, agency.ingest, clock.now),  # type: ignore[arg-type]
        tick_seconds=HOUR_S,
        dispatch_seconds=HOUR_S,
    )


async def test_the_start_up_survey_asks_each_spy_what_the_ones_before_it_taught(
    store: Store, clock: ManualClock
) -> None:
    start = clock.now() - timedelta(hours=2)
    oms = ScriptedSpy(Source.OMS, clock, [[RunInfo(RUN, start, None)]])
    tier0 = ScriptedSpy(Source.TIER0, clock, [])
    agency = scripted_agency(store, clock, [oms, tier0])
    await agency.start()
    try:
        await polls(tier0, 1)
        # OMS's own questions changed with the run it named: it alone is woken after the
        # survey; the Tier-0 spy was asked about the run already and sleeps its hour.
        await polls(oms, 2)
    finally:
        await agency.stop()
    assert oms.asked[0].highest_known_run is None
    assert tier0.asked[0].open_runs == [RUN]
    assert oms.asked[1].highest_known_run == RUN
    assert len(tier0.asked) == 1


async def test_a_new_run_from_oms_wakes_the_tier0_spy_at_once(
    store: Store, clock: ManualClock
) -> None:
    start = clock.now() - timedelta(hours=2)
    named = [[RunInfo(RUN, start, None)], [RunInfo(RUN + 1, start, None)]]
    oms = ScriptedSpy(Source.OMS, clock, named)
    tier0 = ScriptedSpy(Source.TIER0, clock, [])
    agency = scripted_agency(store, clock, [oms, tier0])
    await agency.start()
    try:
        # After the survey OMS is woken (its own questions changed) and names another run;
        # with hour-long intervals only the wake can bring the Tier-0 spy back before the
        # test gives up.
        await polls(tier0, 2)
    finally:
        await agency.stop()
    assert tier0.asked[0].open_runs == [RUN]
    assert tier0.asked[1].open_runs == [RUN, RUN + 1]


async def test_a_batch_that_changes_nothing_a_spy_reads_wakes_nobody(
    store: Store, clock: ManualClock
) -> None:
    quiet = ScriptedSpy(Source.TIER0, clock, [])
    supervisor = Supervisor([Schedule(quiet, HOUR_S, 60.0)], _scope_of(clock), _ignore, clock.now)
    supervisor.start()
    try:
        await polls(quiet, 1)
        assert supervisor.scope_changed(PollScope(now=clock.now())) == []
        woken = supervisor.scope_changed(PollScope(now=clock.now(), highest_known_run=RUN))
        assert woken == [Source.TIER0]
        await polls(quiet, 2)
    finally:
        await supervisor.stop()
    assert quiet.asked[1].highest_known_run is None  # the scope provider's, not the argument


def _scope_of(clock: ManualClock):  # type: ignore[no-untyped-def]
    async def scope() -> PollScope:
        return PollScope(now=clock.now())

    return scope


async def _ignore(_report: SpyReport) -> None:
    return None


async def test_a_poller_told_to_stop_as_it_is_woken_stops(store: Store, clock: ManualClock) -> None:
    """The wake and the stop in one turn of the loop: the cancellation must not be lost
    (``asyncio.wait_for`` on Python 3.11 loses it, and the poller polls once more and then
    sleeps its hour while ``stop`` waits for it)."""
    quiet = ScriptedSpy(Source.TIER0, clock, [])
    supervisor = Supervisor([Schedule(quiet, HOUR_S, 60.0)], _scope_of(clock), _ignore, clock.now)
    supervisor.start()
    await polls(quiet, 1)
    await asyncio.sleep(0)  # the poller is back in its wait
    supervisor.wake()
    async with asyncio.timeout(10):  # in this task: the stop's cancel comes in the same turn
        await supervisor.stop()
    assert len(quiet.asked) == 1
