"""The head of the line (domain/queue.py), by example and by property."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from spyagency.domain.queue import QueuedRun, queue_of
from spyagency.domain.states import Verdict

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_the_lowest_unsettled_run_holds_the_ready_runs_behind_it() -> None:
    queue = queue_of(
        [
            QueuedRun(12, Verdict.READY, at(5)),
            QueuedRun(10, Verdict.READY, at(1)),
            QueuedRun(11, Verdict.BLOCKED, at(2), ("SiPixelAli timed_out",)),
            QueuedRun(13, Verdict.PENDING, at(3)),
            QueuedRun(14, Verdict.READY, at(4)),
        ]
    )
    assert queue.head is not None and queue.head.run == 11
    assert queue.head.reasons == ("SiPixelAli timed_out",)
    assert queue.held == (12, 14)
    assert queue.holding_since == at(4)  # run 14 became ready first among those held
    assert queue.held_by(12) == 11 and queue.held_by(13) is None and queue.held_by(10) is None


def test_a_locked_run_holds_nothing_and_nothing_waits_behind_no_head() -> None:
    assert queue_of([QueuedRun(1, Verdict.BLOCKED, at(0), locked=True)]).head is None
    only_ready = queue_of([QueuedRun(1, Verdict.READY, at(0)), QueuedRun(2, Verdict.READY, at(1))])
    assert only_ready.head is None and only_ready.held == ()
    alone = queue_of([QueuedRun(3, Verdict.PENDING, at(0))])
    assert alone.head is not None and alone.held == () and alone.holding_since is None


def test_holding_starts_no_earlier_than_the_heads_own_verdict() -> None:
    queue = queue_of([QueuedRun(1, Verdict.UNKNOWN, at(6)), QueuedRun(2, Verdict.READY, at(2))])
    assert queue.holding_since == at(6)


runs = st.lists(
    st.builds(
        QueuedRun,
        run=st.integers(1, 40),
        verdict=st.sampled_from([Verdict.READY, Verdict.PENDING, Verdict.BLOCKED, Verdict.UNKNOWN]),
        verdict_since=st.integers(0, 100).map(at),
        locked=st.booleans(),
    ),
    unique_by=lambda r: r.run,
)


@given(runs)
def test_the_head_is_the_first_run_the_tier0_would_wait_for(items: list[QueuedRun]) -> None:
    queue = queue_of(items)
    waiting = sorted(r.run for r in items if not r.locked and r.verdict is not Verdict.READY)
    assert (queue.head.run if queue.head else None) == (waiting[0] if waiting else None)
    for run in queue.held:
        assert queue.head is not None and run > queue.head.run
    if queue.head is not None:
        above = {r.run for r in items if r.run > queue.head.run and r.verdict is Verdict.READY}
        assert set(queue.held) == above
