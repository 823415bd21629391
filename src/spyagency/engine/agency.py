"""The Agency: pollers, evaluator ticks and the outbox dispatcher, run together.

On taking up work (at start, or on winning the leadership) it first reads every source once,
in turn, and judges once on all of it (``_survey``); then one poller per source polls on its
interval, and a batch that changes what another spy would ask wakes that spy at once.

Evaluator work (which touches the store and the in-memory knowledge) is serialised by one lock
and runs in a worker thread, so a web server in the same process stays responsive.

With a ``Leadership`` the agency only works while it leads (see ``leadership.py``): a standby
polls nothing and writes nothing; on winning it rebuilds its memory from the store and starts;
on losing it stops at once. Without one (tests, replays) it simply starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from spyagency.engine.batches import EvaluationResult
from spyagency.engine.delivery import Dispatcher
from spyagency.engine.evaluator import Evaluator
from spyagency.engine.leadership import Leadership
from spyagency.engine.metrics import EngineMetrics
from spyagency.engine.polling import Supervisor
from spyagency.engine.waiting import woken_within
from spyagency.spies.scope import PollScope, SpyReport

log = logging.getLogger(__name__)
Listener = Callable[[EvaluationResult], None]
T = TypeVar("T")


def log_changes(result: EvaluationResult) -> None:
    """One log line per verdict change (INFO) and per workflow-state change (DEBUG), carrying
    ``run`` and ``workflow`` (the JSON log format keeps them as keys, so a log search by run
    finds its whole story)."""
    for change in result.changes:
        if change.verdict_changed:
            old = change.old_verdict.value if change.old_verdict else "unseen"
            log.info(
                "run %d: %s -> %s",
                change.run,
                old,
                change.new_verdict.value,
                extra={"run": change.run},
            )
        for workflow in change.workflow_changes:
            log.debug(
                "run %d %s: %s -> %s",
                change.run,
                workflow.workflow,
                workflow.old.value if workflow.old else "unseen",
                workflow.new.value if workflow.new else "gone",
                extra={"run": change.run, "workflow": workflow.workflow},
            )


class Agency:
    def __init__(
        self,
        evaluator: Evaluator,
        dispatcher: Dispatcher,
        make_supervisor: Callable[[Agency], Supervisor],
        *,
        tick_seconds: float = 5.0,
        dispatch_seconds: float = 1.0,
        leadership: Leadership | None = None,
        metrics: EngineMetrics | None = None,
        housekeeping: Callable[[], object] | None = None,
        housekeeping_seconds: float = 6 * 3600.0,
    ) -> None:
        self.evaluator = evaluator
        self.dispatcher = dispatcher
        self.tick_seconds = tick_seconds
        self.dispatch_seconds = dispatch_seconds
        self.leadership = leadership
        self.metrics = metrics or EngineMetrics()
        # Slow store upkeep (retention), leader only, in a worker thread outside the
        # evaluator lock: it is written to be safe next to the evaluator's transactions.
        self.housekeeping = housekeeping
        self.housekeeping_seconds = housekeeping_seconds
        self.listeners: list[Listener] = []
        self._lock = asyncio.Lock()
        # Reports waiting for the next group commit, with what their callers await.
        self._waiting: list[tuple[SpyReport, asyncio.Future[None]]] = []
        self._work: list[asyncio.Task[None]] = []
        self._campaign: asyncio.Task[None] | None = None
        self.supervisor = make_supervisor(self)
        self.started = asyncio.Event()
        self.leading = False
        self._dispatch_now = asyncio.Event()

    async def _timed(self, kind: str, work: Callable[[], T]) -> T:
        async with self._lock:
            began = time.perf_counter()
            try:
                return await asyncio.to_thread(work)
            finally:
                self.metrics.observe_evaluation(kind, time.perf_counter() - began)

    async def scope(self) -> PollScope:
        async with self._lock:
            return await asyncio.to_thread(self.evaluator.scope)

    async def ingest(self, report: SpyReport) -> None:
        """Store and judge ``report``; returns once it is committed.

        Group commit: reports handed in while a batch is being written wait together and go
        in as the next batch, one transaction judging each touched run once. When sources
        answer faster than the store writes (a backlog after an outage, a busy start-up),
        batches grow instead of queues; a quiet engine still commits each report at once.
        """
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((report, done))
        # One turn of the event loop: reports handed in at the same moment (pollers that
        # finished together) join this batch instead of waiting for the next.
        await asyncio.sleep(0)
        async with self._lock:
            batch, self._waiting = self._waiting, []
            if batch:
                await self._commit_batch(batch)
        await done

    async def _stored(
        self, store: Callable[[], EvaluationResult]
    ) -> tuple[EvaluationResult, PollScope]:
        """Run ``store`` (a batch's commit) and build the scope after it, in the worker
        thread, timed as an ingest. The caller holds the lock."""

        def store_and_scope() -> tuple[EvaluationResult, PollScope]:
            return store(), self.evaluator.scope()

        began = time.perf_counter()
        try:
            return await asyncio.to_thread(store_and_scope)
        finally:
            self.metrics.observe_evaluation("ingest", time.perf_counter() - began)

    def _after_batch(self, result: EvaluationResult, scope: PollScope) -> None:
        """Wake the spies whose questions the batch changed, and tell what it concluded."""
        self.supervisor.scope_changed(scope)
        self._publish(result)

    async def _commit_batch(self, batch: list[tuple[SpyReport, asyncio.Future[None]]]) -> None:
        reports = [report for report, _ in batch]
        try:
            result, scope = await self._stored(lambda: self.evaluator.ingest_many(reports))
        except BaseException as failure:
            # Every caller of the batch learns its fate; none is left waiting.
            for _, done in batch:
                if done.done():
                    continue
                if isinstance(failure, Exception):
                    done.set_exception(failure)
                else:
                    done.cancel()
            if isinstance(failure, Exception):
                return
            raise
        for _, done in batch:
            done.set_result(None)
        self._after_batch(result, scope)

    async def _survey_then_poll(self) -> None:
        """The survey, then the pollers and the tick loop (this task becomes the latter)."""
        surveyed: tuple[EvaluationResult, PollScope] | None = None
        try:
            async with self._lock:
                surveyed = await self._survey()
        except Exception:
            # A failed commit has rebuilt the evaluator's memory from the store; reports staged
            # before any other failure go in with the next batch. The pollers read it all again.
            log.exception("the start-up survey failed; polling starts at once")
        self.supervisor.start(wait_first=surveyed is not None)
        if surveyed is not None:
            self._after_batch(*surveyed)
        await self._every(self.tick_seconds, self.tick)

    async def _survey(self) -> tuple[EvaluationResult, PollScope]:
        """Read every source once, in turn, each asked what the ones before it taught (the
        harvest area looks up the files WMStats has just named), and judge once on all of it.

        Memory rebuilt from the store may be hours old (a restart, an outage, a new leader):
        pollers side by side would hand in their first reports one batch at a time, and a run
        locked in meanwhile would be judged on the Tier-0's news of its lock-in before the
        harvest area and the CondDB had been asked about the files and IOVs that came while
        nobody watched. Runs whose verdict is final leave the scope, so such a judgement
        could not be mended by the reports that follow. The caller holds the lock.
        """
        for schedule in self.supervisor.schedules:
            scope = await asyncio.to_thread(self.evaluator.scope)
            report = await self.supervisor.poll(schedule, scope)
            await asyncio.to_thread(self.evaluator.stage, report)
        return await self._stored(self.evaluator.commit)

    async def tick(self) -> None:
        self._publish(await self._timed("tick", self.evaluator.tick))

    async def reevaluate(self, runs: list[int]) -> EvaluationResult:
        """After an operator action. A standby leaves it to the leader's next tick."""
        if not self.leading:
            return EvaluationResult()
        result = await self._timed("reevaluate", lambda: self.evaluator.reevaluate(runs))
        self._publish(result)
        return result

    def _publish(self, result: EvaluationResult) -> None:
        log_changes(result)
        if result.signals or result.alerts_opened or result.alerts_resolved:
            # Something entered the outbox: deliver now rather than at the next pass.
            self._dispatch_now.set()
        for listener in self.listeners:
            try:
                listener(result)
            except Exception:
                log.exception("a listener failed")

    async def _every(
        self, seconds: float, step: Callable[[], object], wake: asyncio.Event | None = None
    ) -> None:
        """Run ``step`` every ``seconds``, surviving its errors; setting ``wake`` runs it at
        once (the dispatcher is woken when a batch queued something, so detection latency
        has no dispatcher sleep in it)."""
        while True:
            if wake is not None:
                wake.clear()
            try:
                outcome = step()
                if asyncio.iscoroutine(outcome):
                    await outcome
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("periodic step failed")
            if wake is None:
                await asyncio.sleep(seconds)
            else:
                await woken_within(wake, seconds)

    async def start(self) -> None:
        if self.leadership is None:
            await self._lead()
        else:
            await self._run_campaign_once()
            self._campaign = asyncio.create_task(self._campaign_loop(), name="leader-campaign")
        self.started.set()

    async def _lead(self) -> None:
        """Rebuild memory from the store (it may have changed under another leader), read
        every source once (``_survey``), then work."""
        async with self._lock:
            await asyncio.to_thread(self.evaluator.reload)
        log.info("engine working: memory rebuilt from the store")
        self.leading = True
        # In a task of its own: the leader campaign must go on heartbeating while the
        # sources are read, however slowly they answer.
        self._work.append(asyncio.create_task(self._survey_then_poll(), name="engine-work"))
        dispatch = self._every(
            self.dispatch_seconds, self.dispatcher.dispatch_once, self._dispatch_now
        )
        self._work.append(asyncio.create_task(dispatch))
        housekeeping = self.housekeeping
        if housekeeping is not None:
            self._work.append(
                asyncio.create_task(
                    self._every(self.housekeeping_seconds, lambda: asyncio.to_thread(housekeeping))
                )
            )

    async def _follow(self) -> None:
        """Stop every kind of work; the store keeps everything a successor needs."""
        self.leading = False
        await self.supervisor.stop()
        for task in self._work:
            task.cancel()
        for task in self._work:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._work.clear()

    async def _run_campaign_once(self) -> None:
        leadership = self.leadership
        assert leadership is not None
        leads = await asyncio.to_thread(leadership.campaign)
        self.metrics.observe_leadership(leadership.epoch)
        if leads and not self.leading:
            try:
                await self._lead()
            except Exception:
                log.exception("could not take up leadership; standing by")
                await self._follow()
                await asyncio.to_thread(leadership.resign)
        elif not leads and self.leading:
            log.warning("no longer the leader; standing by")
            await self._follow()

    async def _campaign_loop(self) -> None:
        leadership = self.leadership
        assert leadership is not None
        while True:
            await asyncio.sleep(leadership.heartbeat.total_seconds())
            try:
                await self._run_campaign_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("leader campaign step failed")

    async def stop(self) -> None:
        if self._campaign is not None:
            self._campaign.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._campaign
            self._campaign = None
        await self._follow()
        if self.leadership is not None:
            await asyncio.to_thread(self.leadership.resign)
            self.metrics.observe_leadership(None)
