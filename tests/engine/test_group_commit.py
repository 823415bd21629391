"""Group commit: reports handed to the agency while a batch is being written go in together,
each caller returning once its report is committed (or failed with its batch)."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest

from spyagency.domain.clock import ManualClock
from spyagency.domain.facts import StreamDone
from spyagency.domain.observation import Observation
from spyagency.domain.states import Source
from spyagency.engine.agency import Agency
from spyagency.engine.batches import EvaluationResult
from spyagency.engine.delivery import Dispatcher
from spyagency.engine.polling import Supervisor
from spyagency.spies.scope import SpyReport
from spyagency.store.leader import Deposed
from spyagency.store.uow import Store, Transaction
from tests.engine.conftest import make_evaluator


def agency_on(store: Store, clock: ManualClock) -> Agency:
    evaluator = make_evaluator(store, clock, alert_channels=())
    return Agency(
        evaluator,
        Dispatcher(store, {}, clock, worker="test"),
        lambda agency: Supervisor([], agency.scope, agency.ingest, clock.now),
    )


def listening(store: Store, clock: ManualClock) -> tuple[Agency, list[EvaluationResult]]:
    """A loaded agency and the list its batches are reported to."""
    agency = agency_on(store, clock)
    agency.evaluator.load()
    batches: list[EvaluationResult] = []
    agency.listeners.append(batches.append)
    return agency, batches


def report(run: int, clock: ManualClock) -> SpyReport:
    now = clock.now()
    seen = Observation(Source.TIER0, now, StreamDone(run, "Express", True), "[true]")
    return SpyReport(Source.TIER0, now, now, [seen])


async def test_reports_handed_in_together_are_committed_together(
    store: Store, clock: ManualClock
) -> None:
    agency, batches = listening(store, clock)
    runs = range(380000, 380006)
    await asyncio.gather(*(agency.ingest(report(run, clock)) for run in runs))
    # Handed in at the same moment: one batch, each run judged once.
    assert [b.news for b in batches] == [6]
    assert sorted(a.run for b in batches for a in b.assessments) == list(runs)
    with store.read() as tx:
        assert tx.observations.count() == 6  # committed before any caller returned
    await agency.ingest(report(380010, clock))  # a quiet engine commits at once
    assert [b.news for b in batches] == [6, 1]


class HeldWrite:
    """A store fence that, once armed, holds the next write transaction open in its worker
    thread until released: reports can then be handed in while a batch is provably being
    written, whatever the machine's speed."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._armed = False
        self.writing = asyncio.Event()
        self._released = threading.Event()

    def hold_next_write(self) -> None:
        self._armed = True

    def release(self) -> None:
        self._released.set()

    def __call__(self, tx: Transaction) -> None:
        if not self._armed:
            return
        self._armed = False
        self._loop.call_soon_threadsafe(self.writing.set)
        self._released.wait()


async def test_reports_handed_in_while_a_batch_is_written_wait_for_the_next(
    store: Store, clock: ManualClock
) -> None:
    held = HeldWrite(asyncio.get_running_loop())
    agency, batches = listening(store.with_fence(held), clock)
    held.hold_next_write()
    first = asyncio.create_task(agency.ingest(report(380000, clock)))
    later: list[asyncio.Task[None]] = []
    try:
        await held.writing.wait()  # the first batch is inside its transaction
        later = [
            asyncio.create_task(agency.ingest(report(run, clock))) for run in range(380001, 380004)
        ]
        await asyncio.sleep(0)  # one turn: each later report has been handed in
        assert not first.done()
        assert not any(task.done() for task in later)
        assert batches == []
    finally:
        held.release()
    await asyncio.gather(first, *later)
    assert [b.news for b in batches] == [1, 3]


async def test_every_caller_of_a_failed_batch_gets_its_failure(
    store: Store, clock: ManualClock
) -> None:
    def deposed(tx: Transaction) -> None:
        raise Deposed("another engine leads")

    agency = agency_on(store.with_fence(deposed), clock)
    clock.advance(timedelta(minutes=1))
    outcomes = await asyncio.gather(
        *(agency.ingest(report(run, clock)) for run in range(380000, 380004)),
        return_exceptions=True,
    )
    assert all(isinstance(outcome, Deposed) for outcome in outcomes)
    with store.read() as tx:
        assert tx.observations.count() == 0
    with pytest.raises(Deposed):
        await agency.ingest(report(380005, clock))
