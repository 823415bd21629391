"""The Agency: pollers, evaluator ticks and the outbox dispatcher, run together.

Evaluator work (which touches the store and the in-memory knowledge) is serialised by one lock
and runs in a worker thread, so a web server in the same process stays responsive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from spyagency.engine.delivery import Dispatcher
from spyagency.engine.evaluator import EvaluationResult, Evaluator
from spyagency.engine.polling import Supervisor
from spyagency.spies.scope import PollScope, SpyReport

log = logging.getLogger(__name__)
Listener = Callable[[EvaluationResult], None]


class Agency:
    def __init__(
        self,
        evaluator: Evaluator,
        dispatcher: Dispatcher,
        make_supervisor: Callable[[Agency], Supervisor],
        *,
        tick_seconds: float = 5.0,
        dispatch_seconds: float = 1.0,
    ) -> None:
        self.evaluator = evaluator
        self.dispatcher = dispatcher
        self.tick_seconds = tick_seconds
        self.dispatch_seconds = dispatch_seconds
        self.listeners: list[Listener] = []
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self.supervisor = make_supervisor(self)
        self.started = asyncio.Event()

    async def scope(self) -> PollScope:
        async with self._lock:
            return await asyncio.to_thread(self.evaluator.scope)

    async def ingest(self, report: SpyReport) -> None:
        async with self._lock:
            result = await asyncio.to_thread(self.evaluator.ingest, report)
        self._publish(result)

    async def tick(self) -> None:
        async with self._lock:
            result = await asyncio.to_thread(self.evaluator.tick)
        self._publish(result)

    async def reevaluate(self, runs: list[int]) -> EvaluationResult:
        async with self._lock:
            result = await asyncio.to_thread(self.evaluator.reevaluate, runs)
        self._publish(result)
        return result

    def _publish(self, result: EvaluationResult) -> None:
        for listener in self.listeners:
            try:
                listener(result)
            except Exception:
                log.exception("a listener failed")

    async def _every(self, seconds: float, step: Callable[[], object]) -> None:
        while True:
            try:
                outcome = step()
                if asyncio.iscoroutine(outcome):
                    await outcome
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("periodic step failed")
            await asyncio.sleep(seconds)

    async def start(self) -> None:
        async with self._lock:
            replayed = await asyncio.to_thread(self.evaluator.load)
        log.info("engine started; replayed %d observations", replayed)
        self.supervisor.start()
        self._tasks.append(asyncio.create_task(self._every(self.tick_seconds, self.tick)))
        self._tasks.append(
            asyncio.create_task(self._every(self.dispatch_seconds, self.dispatcher.dispatch_once))
        )
        self.started.set()

    async def stop(self) -> None:
        await self.supervisor.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
