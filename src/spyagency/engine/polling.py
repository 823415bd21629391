"""Running every spy on its own schedule, surviving whatever a spy does.

Each source gets one asyncio task:

1. ask the engine for the current poll scope (the open runs and what they still need);
2. run the spy's ``poll`` with an overall deadline (a spy that hangs is cut off);
3. hand the report to the engine, which stores observations and health in one transaction;
4. sleep until the next poll, or until woken early: a batch changed what this spy would ask
   (``scope_changed``: another source's report named a harvest, a new run appeared), or an
   operator asked.

A spy that raises despite its contract, or times out, becomes a report with one source error:
the loop never dies and the engine keeps everything it knew.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import datetime

from spyagency.domain.states import Source
from spyagency.engine.waiting import within, woken_within
from spyagency.spies.base import Spy
from spyagency.spies.scope import PollScope, SourceError, SpyReport
from spyagency.spies.scope_reads import scope_key

log = logging.getLogger(__name__)


@dataclass
class Schedule:
    spy: Spy
    interval_seconds: float
    deadline_seconds: float


ScopeProvider = Callable[[], Awaitable[PollScope]]
ReportSink = Callable[[SpyReport], Awaitable[None]]
Now = Callable[[], datetime]
# (source, wall seconds the poll took, whether it succeeded): for metrics.
PollObserver = Callable[[Source, float, bool], None]


async def poll_once(spy: Spy, scope: PollScope, deadline_seconds: float, now: Now) -> SpyReport:
    """One poll that always returns a report, whatever the spy does."""
    started = now()
    try:
        return await within(spy.poll(scope), deadline_seconds)
    except TimeoutError:
        message = f"poll did not finish within {deadline_seconds:.0f} s"
        raw = ""
    except Exception as error:  # the spy contract says never raise; make sure of it
        message = f"spy crashed: {type(error).__name__}: {error}"
        raw = traceback.format_exc(limit=5)
    report = SpyReport(source=spy.source, started_at=started, finished_at=now())
    report.errors.append(SourceError(spy.source, now(), message, raw))
    return report


class Supervisor:
    """Owns one polling task per spy; ``wake`` makes every poller go now."""

    def __init__(
        self,
        schedules: list[Schedule],
        scope: ScopeProvider,
        sink: ReportSink,
        now: Now,
        on_poll: PollObserver | None = None,
    ) -> None:
        self.schedules = schedules
        self.scope = scope
        self.sink = sink
        self.now = now
        self.on_poll = on_poll
        self._wake = {s.spy.source: asyncio.Event() for s in schedules}
        # What each poller's spy read of the scope it last polled with (``scope_key``).
        self._asked: dict[Source, Hashable] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self, source: Source | None = None) -> None:
        for name, event in self._wake.items():
            if source is None or name is source:
                event.set()

    def scope_changed(self, scope: PollScope) -> list[Source]:
        """Wake every poller whose spy would ask something else of ``scope`` than at its last
        poll: a harvest WMStats just reported is looked for now, and the upload it leads to
        after it, instead of one poll interval later for each hop. Returns who was woken."""
        woken = []
        for source, asked in self._asked.items():
            if scope_key(source, scope) != asked:
                self._wake[source].set()
                woken.append(source)
        return woken

    async def poll(self, schedule: Schedule, scope: PollScope) -> SpyReport:
        """One poll of ``schedule``'s spy with ``scope``, remembered as what it was last asked
        (for ``scope_changed``), timed for the metrics, and logged when it failed."""
        self._asked[schedule.spy.source] = scope_key(schedule.spy.source, scope)
        began = time.perf_counter()
        report = await poll_once(schedule.spy, scope, schedule.deadline_seconds, self.now)
        if self.on_poll is not None:
            self.on_poll(report.source, time.perf_counter() - began, report.ok)
        if not report.ok:
            first = report.source_errors[0]
            log.warning(
                "%s poll failed: %s",
                report.source.value,
                first.message,
                extra={"source": report.source.value},
            )
        return report

    async def _loop(self, schedule: Schedule, wait_first: bool) -> None:
        wake = self._wake[schedule.spy.source]
        if wait_first:
            await woken_within(wake, schedule.interval_seconds)
        while True:
            wake.clear()
            try:
                report = await self.poll(schedule, await self.scope())
                await self.sink(report)
            except asyncio.CancelledError:
                raise
            except Exception:  # a failing store must not end polling
                log.exception("handling a %s report failed", schedule.spy.source.value)
            await woken_within(wake, schedule.interval_seconds)

    def start(self, *, wait_first: bool = False) -> None:
        """One polling task per spy; with ``wait_first`` each waits its interval (or a wake)
        before its first poll, because every source has just been read (``Agency``'s
        start-up survey)."""
        for schedule in self.schedules:
            name = f"poll-{schedule.spy.source.value}"
            self._tasks.append(asyncio.create_task(self._loop(schedule, wait_first), name=name))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
