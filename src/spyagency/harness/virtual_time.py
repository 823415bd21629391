"""An asyncio event loop whose clock is virtual: unchanged asyncio code runs in simulated time.

The agency's production loop (pollers sleeping their interval, the tick loop, the dispatcher,
the leader campaign) is plain asyncio: it sleeps with ``asyncio.sleep`` and ``wait_for``, and
does its store work in worker threads (``asyncio.to_thread``). Run on a ``VirtualTimeLoop``,
that same code replays a year in minutes, because waiting costs nothing:

1. ``time()`` is the loop's virtual time, which only this loop moves;
2. when the loop would wait (nothing ready to run), it first runs the executor work handed to
   it (``run_in_executor``, which ``asyncio.to_thread`` uses), one job at a time in a real
   worker thread, and delivers each job's outcome before anything else happens;
3. if still nothing is ready, virtual time jumps to the earliest timer (a sleep of an hour
   takes no wall time), and the listeners hear of the new time before any timer fires at it.

Time therefore never moves while a thread's work is in flight: a store transaction takes no
virtual time, as a CPU step does. Running executor jobs one at a time, at the point where the
loop would otherwise wait, also makes a replay deterministic: the order in which concurrent
tasks meet a job's outcome does not depend on how fast the machine ran the thread. It is one
of the orders a real loop can produce (a job that finishes before the loop's next pass).

What the loop cannot see: threads that do not go through ``run_in_executor`` (anyio's own
worker threads, a ``threading.Thread``) run while virtual time moves on, and a job that waits
on the loop itself (``run_coroutine_threadsafe(...).result()`` from the worker) would wait
forever. The agency uses neither; the simulator uses anyio's threads only to bring its world
up to date, which the replay does beforehand through a time listener.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import selectors
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike

T = TypeVar("T")
RESOLUTION = 1e-6  # seconds; see ``VirtualTimeLoop.__init__``
TimeListener = Callable[[float], None]


@dataclass
class _Job:
    """Executor work waiting for the loop's next wait (see ``VirtualTimeLoop``)."""

    executor: concurrent.futures.Executor | None
    work: Callable[[], Any]
    outcome: asyncio.Future[Any]


class _VirtualSelector(selectors.BaseSelector):
    """The loop's selector: asks the real one for I/O without waiting, and where a real loop
    would sleep, lets its ``VirtualTimeLoop`` run executor work or move time instead."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._loop = loop
        self._real = selectors.DefaultSelector()

    def register(
        self, fileobj: FileDescriptorLike, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: FileDescriptorLike) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(
        self, fileobj: FileDescriptorLike, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Mapping[FileDescriptorLike, selectors.SelectorKey]:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if self._loop._run_waiting_jobs():
            # Their outcomes are now ready callbacks: no waiting, no time passes.
            return self._real.select(0)
        events = self._real.select(0)
        if events or timeout == 0:
            return events
        if self._loop._wake_idle_waiters():
            return []  # everything due now has run: those waiting for that go first
        if timeout is None:
            # No timer at all: only another thread can bring work (as on a real loop).
            return self._real.select(None)
        self._loop._advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop on virtual time (see the module docstring).

    ``start`` is the loop's time at creation. Each listener added with
    ``add_time_listener`` is called with the new time whenever time moves, before any timer
    due then fires (a simulated world is brought up to that moment there).
    """

    def __init__(self, start: float = 0.0) -> None:
        self._virtual_now = start
        self._jobs: deque[_Job] = deque()
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._time_listeners: list[TimeListener] = []
        # One worker: jobs run one at a time anyway, and one thread keeps a job's thread
        # the same from one job to the next, as far as a job could tell.
        self._worker = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="virtual-time"
        )
        super().__init__(selector=_VirtualSelector(self))
        self.set_default_executor(self._worker)
        # A timer fires once it is due within the clock's resolution. asyncio takes the
        # monotonic clock's (a nanosecond), finer than a float can tell apart near a
        # simulated year (2^24 s) or a Unix time: a timer due "now" would then never fire,
        # and the loop would spin. A microsecond is finer than anything a replay schedules
        # and coarser than a float's step up to 2^32 s (136 years from the loop's origin).
        self._clock_resolution = RESOLUTION

    def time(self) -> float:
        return self._virtual_now

    def add_time_listener(self, listener: TimeListener) -> None:
        self._time_listeners.append(listener)

    def run_in_executor(  # type: ignore[override]
        self, executor: concurrent.futures.Executor | None, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        """Queue ``func(*args)`` for the loop's next wait; time stands still until it is done."""
        if self.is_closed():
            raise RuntimeError("Event loop is closed")
        outcome: asyncio.Future[T] = self.create_future()
        self._jobs.append(_Job(executor, lambda: func(*args), outcome))
        return outcome

    async def until_idle(self) -> None:
        """Return once everything due at the present moment has run: every other task waits
        for a later timer (or for nothing), and no executor work is queued."""
        waiter: asyncio.Future[None] = self.create_future()
        self._idle_waiters.append(waiter)
        await waiter

    def _run_waiting_jobs(self) -> bool:
        """Run every queued executor job in turn and settle its future; True if any ran."""
        ran = False
        while self._jobs:
            job = self._jobs.popleft()
            if job.outcome.cancelled():
                continue  # as a real executor skips a job cancelled before it started
            running = (job.executor or self._worker).submit(job.work)
            concurrent.futures.wait([running])
            ran = True
            if job.outcome.cancelled():
                continue
            failure = running.exception()
            if failure is None:
                job.outcome.set_result(running.result())
            elif isinstance(failure, StopIteration):
                # A future cannot carry StopIteration (it would end the awaiting coroutine).
                job.outcome.set_exception(RuntimeError(f"executor job raised {failure!r}"))
            else:
                job.outcome.set_exception(failure)
        return ran

    def _wake_idle_waiters(self) -> bool:
        waiters, self._idle_waiters = self._idle_waiters, []
        woken = False
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
                woken = True
        return woken

    def _advance(self, seconds: float) -> None:
        # Always forward by at least one representable step: a timer due a hair later than
        # ``now + seconds`` rounds to is reached on the next pass instead of never.
        target = max(self._virtual_now + seconds, math.nextafter(self._virtual_now, math.inf))
        self._virtual_now = target
        for listener in self._time_listeners:
            listener(target)

    def close(self) -> None:
        super().close()
        self._worker.shutdown(wait=True)


@dataclass(frozen=True)
class VirtualClock:
    """A ``Clock`` reading a virtual-time loop: ``origin`` is the moment at loop time
    ``origin_time``, and a loop second is a second."""

    loop: asyncio.AbstractEventLoop
    origin: datetime
    origin_time: float = 0.0

    def now(self) -> datetime:
        return self.origin + timedelta(seconds=self.loop.time() - self.origin_time)


def run_in_virtual_time(
    main: Callable[[VirtualTimeLoop], Coroutine[Any, Any, T]], *, start: float = 0.0
) -> T:
    """Run the coroutine ``main(loop)`` to completion on a new ``VirtualTimeLoop``."""
    loop = VirtualTimeLoop(start)
    with asyncio.Runner(loop_factory=lambda: loop) as runner:
        return runner.run(main(loop))
