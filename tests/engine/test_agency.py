"""The agency under leadership: only the leader works (here: its housekeeping and ticks), a
standby starts working when the leader resigns, and a deposed agency stops."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest

from spyagency.domain.clock import ManualClock
from spyagency.engine.agency import Agency
from spyagency.engine.batches import EvaluationResult
from spyagency.engine.delivery import Dispatcher
from spyagency.engine.leadership import Leadership
from spyagency.engine.polling import Supervisor
from spyagency.store.uow import Store
from tests.engine.conftest import make_evaluator

HEARTBEAT = timedelta(milliseconds=50)


def build_agency(store: Store, clock: ManualClock, chores: list[str], name: str) -> Agency:
    leadership = Leadership(store, heartbeat=HEARTBEAT, holder=name)
    fenced = store.with_fence(leadership.fence)
    return Agency(
        make_evaluator(fenced, clock, alert_channels=()),
        Dispatcher(fenced, {}, clock, worker=name),
        lambda agency: Supervisor([], agency.scope, agency.ingest, clock.now),
        tick_seconds=0.01,
        leadership=leadership,
        housekeeping=lambda: chores.append(name),
        housekeeping_seconds=0.01,
    )


@pytest.fixture
def agencies(store: Store, clock: ManualClock) -> Iterator[tuple[Agency, Agency, list[str]]]:
    chores: list[str] = []
    yield build_agency(store, clock, chores, "a"), build_agency(store, clock, chores, "b"), chores


async def wait_until(condition: object, seconds: float = 20.0) -> None:
    async def poll() -> None:
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), seconds)


async def test_only_the_leader_works_and_a_standby_takes_over(
    agencies: tuple[Agency, Agency, list[str]],
) -> None:
    a, b, chores = agencies
    await a.start()
    await b.start()
    try:
        assert a.leading and not b.leading
        await wait_until(lambda: len(chores) >= 3)
        assert set(chores) == {"a"}
        assert await b.reevaluate([1]) is not None  # a standby quietly does nothing
        await a.stop()  # resigns: b need not wait for the lease to age
        await wait_until(lambda: b.leading)
        count = len(chores)
        await wait_until(lambda: len(chores) >= count + 3)
        assert set(chores[count:]) == {"b"}
        assert b.metrics.leader._value.get() == 1  # type: ignore[attr-defined]
    finally:
        await a.stop()
        await b.stop()


class CountingDispatcher(Dispatcher):
    passes = 0

    async def dispatch_once(self) -> int:
        self.passes += 1
        return await super().dispatch_once()


async def test_a_batch_that_queues_a_signal_wakes_the_dispatcher(
    store: Store, clock: ManualClock
) -> None:
    """Detection latency must not include the dispatcher's sleep between passes."""
    agency = build_agency(store, clock, [], "solo")
    dispatcher = CountingDispatcher(store, {}, clock, worker="solo")
    agency.dispatcher = dispatcher
    agency.dispatch_seconds = 3600.0
    agency.tick_seconds = 3600.0
    agency.leadership = None
    await agency.start()
    try:
        # The first tick may open alerts (sources never polled), which wakes it once more.
        await wait_until(lambda: dispatcher.passes >= 1)
        await asyncio.sleep(0.2)
        settled = dispatcher.passes
        agency._publish(EvaluationResult())  # nothing queued: no extra pass
        await asyncio.sleep(0.1)
        assert dispatcher.passes == settled
        agency._publish(EvaluationResult(signals=1))
        await wait_until(lambda: dispatcher.passes == settled + 1)
    finally:
        await agency.stop()
