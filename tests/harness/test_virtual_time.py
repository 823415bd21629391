"""The virtual-time loop: waiting costs nothing, and time stands still while work is done."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spyagency.harness.virtual_time import VirtualClock, VirtualTimeLoop, run_in_virtual_time

delays = st.lists(
    st.floats(min_value=0.0, max_value=400 * 86400.0, allow_nan=False), min_size=1, max_size=30
)


def close(a: float, b: float) -> bool:
    # A timer may fire one representable step before its due time (see ``_advance``).
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-6)


@settings(max_examples=60, deadline=None)
@given(delays=delays, start=st.sampled_from([0.0, 1.7e9]))
def test_timers_fire_in_order_each_at_its_virtual_time(delays: list[float], start: float) -> None:
    fired: list[tuple[float, float]] = []

    async def main(loop: VirtualTimeLoop) -> None:
        async def sleeper(delay: float) -> None:
            await asyncio.sleep(delay)
            fired.append((delay, loop.time()))

        await asyncio.gather(*(sleeper(d) for d in delays))

    run_in_virtual_time(main, start=start)
    assert sorted(d for d, _ in fired) == sorted(delays)
    woke_at = [t for _, t in fired]
    assert woke_at == sorted(woke_at), "timers fired out of order"
    for delay, t in fired:
        assert close(t, start + delay), (delay, t)


@settings(max_examples=30, deadline=None)
@given(delays=delays)
def test_call_later_handles_fire_at_their_due_time(delays: list[float]) -> None:
    fired: list[tuple[float, float]] = []

    async def main(loop: VirtualTimeLoop) -> None:
        done = asyncio.Event()
        remaining = len(delays)

        def record(delay: float) -> None:
            nonlocal remaining
            fired.append((delay, loop.time()))
            remaining -= 1
            if remaining == 0:
                done.set()

        for delay in delays:
            loop.call_later(delay, record, delay)
        await done.wait()

    run_in_virtual_time(main)
    assert [t for _, t in fired] == sorted(t for _, t in fired)
    assert all(close(t, d) for d, t in fired)


def test_a_year_of_hourly_sleeps_ends_a_year_later_in_virtual_time() -> None:
    """Each sleep ends by a jump of virtual time, never by waiting: the test could not end
    otherwise (one real hour per sleep). Past 2^24 s a float cannot tell a nanosecond apart,
    where asyncio's own timer resolution would leave a due timer unfired for ever."""

    async def main(loop: VirtualTimeLoop) -> float:
        for _ in range(24 * 365):
            await asyncio.sleep(3600)
        return loop.time()

    assert run_in_virtual_time(main) == 365 * 86400.0


def test_time_stands_still_while_a_thread_works() -> None:
    order: list[str] = []

    async def main(loop: VirtualTimeLoop) -> tuple[float, float, float]:
        def store_transaction() -> tuple[float, float]:
            seen = loop.time()
            time.sleep(0.05)  # real work in a real thread
            order.append("transaction")
            return seen, loop.time()

        async def timer() -> float:
            await asyncio.sleep(1.0)
            order.append("timer")
            return loop.time()

        (began, ended), woke = await asyncio.gather(asyncio.to_thread(store_transaction), timer())
        return began, ended, woke

    began, ended, woke = run_in_virtual_time(main)
    assert began == ended == 0.0
    assert woke == 1.0
    assert order == ["transaction", "timer"]


def test_executor_work_runs_in_another_thread_and_passes_on_its_failure() -> None:
    async def main(loop: VirtualTimeLoop) -> str:
        assert await asyncio.to_thread(threading.get_ident) != threading.get_ident()
        try:
            await asyncio.to_thread(int, "not a number")
        except ValueError as error:
            return str(error)
        return "no error"

    assert "not a number" in run_in_virtual_time(main)


@settings(max_examples=25, deadline=None)
@given(
    plan=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 600)), min_size=1, max_size=12),
)
def test_interleaved_threads_and_sleeps_give_one_order(plan: list[tuple[int, int]]) -> None:
    """Tasks that sleep and hand work to threads meet each other in one order, every time."""

    def once() -> list[tuple[int, float]]:
        trace: list[tuple[int, float]] = []

        async def main(loop: VirtualTimeLoop) -> None:
            async def task(number: int, hops: int, delay: int) -> None:
                for _ in range(hops):
                    await asyncio.to_thread(trace.append, (number, loop.time()))
                    await asyncio.sleep(0)
                await asyncio.sleep(delay)
                await asyncio.to_thread(trace.append, (number, loop.time()))

            await asyncio.gather(*(task(n, h, d) for n, (h, d) in enumerate(plan)))

        run_in_virtual_time(main)
        return trace

    first = once()
    assert once() == first
    assert [t for _, t in first] == sorted(t for _, t in first)


def test_wait_for_times_out_at_its_virtual_deadline() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[float, float, str]:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.sleep(100), timeout=10)
        timed_out_at = loop.time()
        answer = await asyncio.wait_for(asyncio.sleep(5, result="in time"), timeout=10)
        return timed_out_at, loop.time(), answer

    assert run_in_virtual_time(main) == (10.0, 15.0, "in time")


def test_time_listeners_hear_each_new_moment_before_its_timers_fire() -> None:
    heard: list[float] = []
    seen_by_timers: list[tuple[float, float]] = []

    async def main(loop: VirtualTimeLoop) -> None:
        loop.add_time_listener(heard.append)

        async def sleeper(delay: float) -> None:
            await asyncio.sleep(delay)
            seen_by_timers.append((loop.time(), heard[-1]))

        await asyncio.gather(sleeper(30), sleeper(10), sleeper(10), sleeper(600))

    run_in_virtual_time(main)
    assert heard == [10.0, 30.0, 600.0]
    assert all(now == last_heard for now, last_heard in seen_by_timers)


def test_until_idle_returns_once_everything_due_now_has_run() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[list[str], float]:
        done: list[str] = []

        async def worker(name: str, hops: int) -> None:
            for _ in range(hops):
                await asyncio.to_thread(lambda: None)
            done.append(name)
            await asyncio.sleep(3600)  # then waits for a later moment
            done.append(f"{name} later")

        tasks = [asyncio.create_task(worker(n, h)) for n, h in (("a", 3), ("b", 1), ("c", 5))]
        await loop.until_idle()
        settled = sorted(done), loop.time()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return settled

    assert run_in_virtual_time(main) == (["a", "b", "c"], 0.0)


def test_the_virtual_clock_reads_the_loop_from_its_origin() -> None:
    origin = datetime(2026, 6, 1, tzinfo=UTC)

    async def main(loop: VirtualTimeLoop) -> list[datetime]:
        clock = VirtualClock(loop, origin)
        seen = [clock.now()]
        await asyncio.sleep(90 * 60)
        seen.append(clock.now())
        seen.append(await asyncio.to_thread(clock.now))  # as a store transaction reads it
        return seen

    assert run_in_virtual_time(main) == [origin, origin + timedelta(minutes=90)] * 1 + [
        origin + timedelta(minutes=90)
    ]
