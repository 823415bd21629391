"""The simulated Tier-0's PromptReco release logic (FindRecoRelease), as pure bookkeeping."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from spyagency.simulator.tier0_release import Tier0Releaser

H = 3600.0
DELAY, OFFSET = 48 * H, 0.5 * H


def releaser(consume: bool = True) -> Tier0Releaser:
    return Tier0Releaser(DELAY, OFFSET, consume)


def drive_to(t0: Tier0Releaser, now: float) -> list[tuple[str, int]]:
    """Step at every timer moment up to now, as the World does."""
    actions = []
    while (moment := t0.next_timer()) is not None and moment <= now:
        actions += t0.step(moment)
    return actions + t0.step(now)


def test_timer_locks_at_stop_plus_delay_minus_offset_then_releases() -> None:
    t0 = releaser()
    t0.add_run(100)
    t0.set_stop(100, 10 * H)
    assert t0.fcsr(99) == 100
    assert t0.next_timer() == 10 * H + DELAY - OFFSET
    assert t0.step(10 * H + DELAY - OFFSET - 1) == []
    assert t0.step(10 * H + DELAY - OFFSET) == [("lock", 100)]
    assert t0.fcsr(99) == 101, "FCSR moves past the locked run"
    assert t0.next_timer() == 10 * H + DELAY
    assert t0.step(10 * H + DELAY) == [("release", 100)]
    rec = t0.records[100]
    assert rec.lock_time == 10 * H + DELAY - OFFSET and rec.release_time == 10 * H + DELAY
    assert not rec.early


def test_running_run_blocks_lock_in_of_later_runs() -> None:
    t0 = releaser()
    t0.add_run(100)
    t0.add_run(101)
    t0.set_stop(101, H)
    assert t0.step(100 * H) == []
    assert t0.fcsr(99) == 100


def test_ready_signal_releases_early_only_for_lowest_unlocked_run() -> None:
    t0 = releaser()
    for run, stop in ((100, 1 * H), (101, 2 * H), (102, 3 * H)):
        t0.add_run(run)
        t0.set_stop(run, stop)
    assert t0.record_ready(101, 4 * H, "k101", "webhook") == "recorded"
    assert t0.step(4 * H) == [], "101 is not the lowest unlocked run: no early release"
    assert t0.record_ready(100, 5 * H, "k100", "webhook") == "recorded"
    assert t0.step(5 * H) == [("lock", 100), ("release", 100), ("lock", 101), ("release", 101)]
    assert t0.records[100].early and t0.records[101].early
    assert t0.fcsr(99) == 102
    assert t0.record_ready(100, 6 * H, "again", "poll") == "already_locked"
    # 102 was never declared ready: the 48 h timer still applies.
    assert t0.step(3 * H + DELAY - OFFSET) == [("lock", 102)]
    assert not t0.records[102].early


def test_ready_before_stop_waits_for_the_stop() -> None:
    t0 = releaser()
    t0.add_run(100)
    t0.record_ready(100, 1 * H, "k", "poll")
    assert t0.step(1 * H) == []
    t0.set_stop(100, 2 * H)
    assert t0.step(2 * H) == [("lock", 100), ("release", 100)]


def test_readiness_ignored_when_not_consumed() -> None:
    t0 = releaser(consume=False)
    t0.add_run(100)
    t0.set_stop(100, H)
    assert t0.record_ready(100, 2 * H, "k", "webhook") == "ignored"
    assert t0.step(2 * H) == []
    assert t0.record_ready(999, 2 * H, "k2", "webhook") == "unknown_run"


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.floats(min_value=0.01, max_value=30.0), min_size=1, max_size=12),
    ready=st.lists(st.tuples(st.integers(0, 11), st.floats(0, 200.0)), max_size=12),
    probes=st.lists(st.floats(min_value=0, max_value=300.0), min_size=1, max_size=30),
)
def test_release_invariants(
    gaps: list[float], ready: list[tuple[int, float]], probes: list[float]
) -> None:
    t0 = releaser()
    stops, t = [], 0.0
    for i, gap in enumerate(gaps):
        t += gap * H
        t0.add_run(1000 + i)
        t0.set_stop(1000 + i, t)
        stops.append(t)
    signals = sorted((at * H, 1000 + idx) for idx, at in ready if idx < len(gaps))
    lock_order = []
    for now in [*sorted(p * H for p in probes), t + DELAY + 1]:
        while signals and signals[0][0] <= now:
            at, run = signals.pop(0)
            lock_order += [r for a, r in drive_to(t0, at) if a == "lock"]
            t0.record_ready(run, at, f"k{run}{at}", "webhook")
            lock_order += [r for a, r in t0.step(at) if a == "lock"]
        lock_order += [r for a, r in drive_to(t0, now) if a == "lock"]
    assert lock_order == sorted(lock_order), "lock-in strictly in run order"
    for i, run in enumerate(sorted(t0.records)):
        rec = t0.records[run]
        assert rec.lock_time is not None and rec.release_time is not None
        assert rec.release_time >= rec.lock_time, "release never before lock-in"
        assert rec.lock_time >= stops[i], "never locked before the run stopped"
        assert rec.release_time <= stops[i] + DELAY, "the timer is the fallback"
        if rec.early:
            assert rec.ready_at is not None and rec.lock_time < stops[i] + DELAY - OFFSET
