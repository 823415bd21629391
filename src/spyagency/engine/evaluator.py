"""The evaluator: folds what the spies saw, judges runs, and writes the consequences.

``ingest(report)`` and ``tick()`` each run in ONE store transaction:

1. append the report's observations and the source's new health record;
2. fold the observations into the in-memory knowledge (order-independent, see ADR 3);
3. judge the affected runs (every open run on a tick, since deadlines move with time);
4. save each run's state: the store writes events only for changes;
5. decide readiness signals in run order (``signals.py``) and write them to the outbox;
6. open, refresh or resolve alerts (``alerts.py``) and queue their notifications.

Either everything of a batch is stored, or nothing is: a crash between two batches loses no
decision, and a restart rebuilds the knowledge by replaying stored observations.

Several reports make one batch: ``stage(report)`` folds each into memory at once (so the next
``scope()`` asks what it taught), and ``commit()`` stores them all and judges every touched
run once, in one transaction; ``ingest_many`` does both for reports handed in together (the
engine's group commit), ``ingest`` for one. What a batch concludes is what the last of the
separate batches would have concluded: judging is a pure function of the knowledge, health,
overrides and ``now``, all equal by then. What it leaves out are the intermediate judgements
between two reports of one batch.

A run whose verdict is final (released or missed) is evicted from memory once its batch is
stored: its knowledge is dropped and no batch scans it again (ADR 7). A late observation of an
evicted run reloads that run from the store, so it is judged exactly as if it had never left.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from spyagency.domain.alerting import AlertCandidate
from spyagency.domain.catalogue import Catalogue
from spyagency.domain.clock import Clock
from spyagency.domain.health import SourceHealth
from spyagency.domain.knowledge import Knowledge, RunChanged, SystemChanged
from spyagency.domain.observation import Observation
from spyagency.domain.overrides import Override
from spyagency.domain.policy import Policy
from spyagency.domain.states import Source, Verdict
from spyagency.domain.verdict import Context, RunAssessment, judge_run
from spyagency.engine.alerts import AlertKeeper
from spyagency.engine.batches import EvaluationResult, StagedReports, next_health
from spyagency.engine.forecasting import Forecaster
from spyagency.engine.scoping import poll_scope
from spyagency.engine.signals import SignalDesk
from spyagency.spies.scope import PollScope, RunScope, SpyReport
from spyagency.store.run_records import SavedRun, StateChange
from spyagency.store.uow import Store, Transaction

log = logging.getLogger(__name__)


class Evaluator:
    def __init__(
        self,
        store: Store,
        catalogue: Catalogue,
        policy: Policy,
        clock: Clock,
        signals: SignalDesk,
        alerts: AlertKeeper,
        prompt_global_tags: Iterable[str] = (),
        forecaster: Forecaster | None = None,
    ) -> None:
        self.store = store
        self.catalogue = catalogue
        self.policy = policy
        self.clock = clock
        self.signals = signals
        self.alerts = alerts
        self.prompt_global_tags = tuple(prompt_global_tags)
        self.forecaster = forecaster or Forecaster(catalogue)
        self.knowledge = Knowledge()
        self.health: dict[Source, SourceHealth] = {}
        self.overrides: list[Override] = []
        # The verdict of every run ever judged (small; the dispatcher and replays read it).
        self.verdicts: dict[int, Verdict] = {}
        # The latest judgement of each open run: what deadlines are computed from.
        self.assessments: dict[int, RunAssessment] = {}
        # The stored version of each assessment above: a judgement equal to the one this
        # process saved last is not saved again (only the leading engine writes run states,
        # so memory is the store's copy; a failed batch rebuilds memory, see ``reload``).
        self._versions: dict[int, int] = {}
        self._open: set[int] = set()  # runs in memory whose verdict is not final
        self._evicted: set[int] = set()  # final runs whose knowledge is only in the store
        self._highest: int | None = None  # highest run ever known, evicted or not
        self._generation = 0  # bumped whenever knowledge changes (scope cache key)
        self._scope: tuple[tuple[int, tuple[int, ...]], PollScope] | None = None
        # Run scopes of the last built scope; a run's entry goes when its knowledge changes.
        self._run_scopes: dict[int, RunScope] = {}
        self._staged = StagedReports()
        self._unloaded = False  # a reload whose load failed (see ``reload``)

    # -- start-up -------------------------------------------------------------------------

    def load(self) -> int:
        """Rebuild memory from the store; return how many observations were replayed (those
        of runs still open, and of the system as a whole)."""
        count = 0
        with self.store.transaction() as tx:
            # Verdicts only: decoding every stored assessment made the start-up peak grow by
            # ~70 kB a run, and the freed memory stayed with the process.
            self.verdicts.update(tx.states.verdicts())
            # Final runs start out evicted: their observations are not even read.
            self._evicted.update(run for run, verdict in self.verdicts.items() if verdict.is_final)
            self._highest = tx.observations.highest_run()
            for observation in tx.observations.iter_unfinished():
                count += 1
                if observation.run is not None:
                    self._open.add(observation.run)
                self.knowledge.add(observation)
            self.health = dict(tx.health.all())
            self.overrides = list(tx.overrides.all_in_force_or_expiring_after(self.clock.now()))
            self.signals.load(tx)
            self.alerts.load(tx)
            self.forecaster.load(tx, self.clock.now(), self._open)
        return count

    # -- what to poll -----------------------------------------------------------------------

    def open_runs(self) -> list[int]:
        """Runs known and not final (released or missed runs are never fetched again)."""
        return sorted(self._open)

    def open_verdicts(self) -> dict[int, Verdict]:
        """The verdicts of the open runs judged so far: all the signal desk needs to walk."""
        return {run: self.verdicts[run] for run in self._open if run in self.verdicts}

    def scope(self) -> PollScope:
        """The next poll's scope, rebuilt only when knowledge or the open runs changed."""
        self._ensure_loaded()
        key = (self._generation, tuple(self.open_runs()))
        if self._scope is None or self._scope[0] != key:
            built = poll_scope(
                self.knowledge,
                key[1],
                self.catalogue,
                self.policy,
                self.clock.now(),
                self.prompt_global_tags,
                highest_known_run=self._highest,
                known_scopes=self._run_scopes,
            )
            self._run_scopes = {r.run: r for r in built.runs}
            self._scope = (key, built)
        return replace(self._scope[1], now=self.clock.now())

    def _context(self, now: datetime) -> Context:
        return Context(
            catalogue=self.catalogue,
            policy=self.policy,
            now=now,
            health=self.health,
            system=self.knowledge.system,
            overrides=self.overrides,
        )

    def assess(self, run: int) -> RunAssessment:
        """Judge one run now, without saving (signals need a fresh judgement)."""
        return judge_run(self.knowledge.run(run), self._context(self.clock.now()))

    # -- batches ----------------------------------------------------------------------------

    def ingest(self, report: SpyReport) -> EvaluationResult:
        """Store what is new in ``report`` and re-judge the runs it touched.

        Repeated sightings of a fact we already hold are dropped (see ``Knowledge.is_news``).
        Staleness and deadlines are left to ``tick``, which judges every open run.
        """
        self._ensure_loaded()
        now = self.clock.now()
        health = next_health(self.health.get(report.source), report, now)
        try:
            with self.store.transaction() as tx:
                news, touched, system_changed = self._fold(tx, report)
                tx.observations.append_many(news)
                tx.health.record(health)
                self.health[report.source] = health
                runs = set(self.open_runs()) if system_changed else set()
                result = self._evaluate(tx, runs | touched, now)
                result.news = len(news)
                return result
        except Exception:
            self._rebuild_after_failure()
            raise

    def ingest_many(self, reports: Sequence[SpyReport]) -> EvaluationResult:
        """``ingest`` for reports handed in together: one transaction, and each run they
        touch judged once, on everything they brought (the engine's group commit)."""
        if len(reports) == 1:
            return self.ingest(reports[0])
        for report in reports:
            self.stage(report)
        return self.commit()

    def stage(self, report: SpyReport) -> None:
        """Fold ``report`` into memory now and keep it for the next ``commit``: the next
        ``scope()`` already asks what it taught. Until the commit, memory holds what the
        store does not: a failed commit rebuilds memory from the store (the staged reports
        are lost, as a failed ``ingest``'s report is).
        """
        self._ensure_loaded()
        now = self.clock.now()
        health = next_health(self.health.get(report.source), report, now)
        try:
            if any(o.run is not None and o.run in self._evicted for o in report.observations):
                with self.store.read() as tx:
                    news, touched, system_changed = self._fold(tx, report)
            else:
                news, touched, system_changed = self._fold(None, report)
        except Exception:
            self._rebuild_after_failure()
            raise
        staged = self._staged
        staged.news += news
        staged.touched |= touched
        staged.system_changed = staged.system_changed or system_changed
        staged.health[report.source] = health
        self.health[report.source] = health

    def commit(self) -> EvaluationResult:
        """Store the staged reports and judge the runs they touched, in one transaction."""
        self._ensure_loaded()
        now = self.clock.now()
        staged, self._staged = self._staged, StagedReports()
        try:
            with self.store.transaction() as tx:
                tx.observations.append_many(staged.news)
                tx.health.record_many(staged.health.values())
                runs = set(staged.touched)
                if staged.system_changed:
                    runs |= set(self.open_runs())
                result = self._evaluate(tx, runs, now)
                result.news = len(staged.news)
                return result
        except Exception:
            self._rebuild_after_failure()
            raise

    def _fold(
        self, tx: Transaction | None, report: SpyReport
    ) -> tuple[list[Observation], set[int], bool]:
        news: list[Observation] = []
        touched: set[int] = set()
        restored: set[int] = set()
        system_changed = False
        for observation in report.observations:
            run = observation.run
            if run is not None and run in self._evicted:
                assert tx is not None, "restoring an evicted run reads the store"
                self._restore(tx, run)
                restored.add(run)
            if not self.knowledge.is_news(observation):
                continue
            news.append(observation)
            self._generation += 1
            match self.knowledge.add(observation):
                case SystemChanged():
                    system_changed = True
                    self._run_scopes = {}  # what a run needs may follow system facts (tag maps)
                case RunChanged(run=changed):
                    touched.add(changed)
                    self._run_scopes.pop(changed, None)
                    if changed not in self.verdicts or not self.verdicts[changed].is_final:
                        self._open.add(changed)
                    self._highest = (
                        changed if self._highest is None else max(self._highest, changed)
                    )
        # A restored run that learnt nothing new is not judged: it leaves memory again now.
        self._evict(restored - touched)
        return news, touched, system_changed

    def _restore(self, tx: Transaction, run: int) -> None:
        """Bring an evicted run back from the store, as it was when it left (ADR 7)."""
        self._evicted.discard(run)
        self._run_scopes.pop(run, None)
        for observation in tx.observations.for_runs([run]):
            self.knowledge.add(observation)

    def _evict(self, runs: Iterable[int]) -> None:
        """Drop final runs from memory: nothing about them can change by time any more."""
        for run in runs:
            self._open.discard(run)
            self.assessments.pop(run, None)
            self._versions.pop(run, None)
            if self.knowledge.runs.pop(run, None) is not None:
                self._evicted.add(run)
                self._generation += 1

    def reload(self) -> None:
        """Forget memory and rebuild it from the store. If the store cannot be read (it is
        down), memory stays marked as unloaded and the next batch, tick or scope loads it
        first: an empty memory must never be taken for what the agency knows."""
        self._unloaded = True
        self._generation += 1
        self._staged = StagedReports()
        self.knowledge = Knowledge()
        self.health = {}
        self.verdicts = {}
        self.assessments = {}
        self._versions = {}
        self._run_scopes = {}
        self._open = set()
        self._evicted = set()
        self._highest = None
        self.load()
        self._unloaded = False

    def _ensure_loaded(self) -> None:
        if self._unloaded:
            self.reload()

    def _rebuild_after_failure(self) -> None:
        """After a failed batch: memory must never hold what the store does not (it folds
        news before the commit, and remembers what it saved), so it is rebuilt from the
        store. If the store cannot be read either, the next call loads it (``reload``); the
        batch's own error is the one raised."""
        try:
            self.reload()
        except Exception:
            log.warning("memory not rebuilt after a failed batch: the store is unreadable")

    def tick(self) -> EvaluationResult:
        """Re-judge every open run: deadlines and staleness move even when sources do not."""
        return self._judge(None, sources=True)

    def reevaluate(self, runs: Iterable[int]) -> EvaluationResult:
        """After an operator action (override placed or revoked) on ``runs``; a run evicted
        from memory is loaded from the store first, so it is judged on all it knew."""
        return self._judge(set(runs), sources=False)

    def _judge(self, runs: set[int] | None, *, sources: bool) -> EvaluationResult:
        """Judge ``runs`` (every open run when None) in a transaction of their own."""
        self._ensure_loaded()
        now = self.clock.now()
        try:
            with self.store.transaction() as tx:
                self.overrides = list(tx.overrides.all_in_force_or_expiring_after(now))
                chosen = set(self.open_runs()) if runs is None else runs
                # A final run left memory (ADR 7): judged from empty memory it would lose
                # everything it knew, so it comes back from the store first (and leaves
                # again after the batch if it is still final).
                for run in sorted(chosen & self._evicted):
                    self._restore(tx, run)
                return self._evaluate(tx, chosen, now, sources=sources)
        except Exception:
            self._rebuild_after_failure()
            raise

    def _saved(self, run: int) -> SavedRun | None:
        """What this process saved last for ``run``, if it saved it since it loaded."""
        version = self._versions.get(run)
        assessment = self.assessments.get(run)
        if version is None or assessment is None:
            return None
        return SavedRun(assessment, version)

    def _evaluate(
        self, tx: Transaction, runs: set[int], now: datetime, sources: bool = False
    ) -> EvaluationResult:
        result = EvaluationResult()
        context = self._context(now)
        forecast_alerts: list[AlertCandidate] = []
        for run in sorted(runs):
            knowledge = self.knowledge.run(run)
            assessment = judge_run(knowledge, context)
            previous = self._saved(run)
            if previous is not None and previous.assessment == assessment:
                verdict = assessment.verdict
                change = StateChange(run, verdict, verdict, (), previous.version, False)
            else:
                change = tx.states.save_run(assessment, now, previous)
                self._versions[run] = change.version
            self.verdicts[run] = assessment.verdict
            self.assessments[run] = assessment
            result.assessments.append(assessment)
            if change.changed:
                result.changes.append(change)
            self.alerts.note_changes(change, now)
            forecast_alerts += self.forecaster.update(tx, assessment, knowledge, now)
        result.signals = self.signals.decide(
            tx, self.open_verdicts(), result.assessments, now, self.assess
        )
        opened, resolved = self.alerts.reconcile(
            tx,
            result.assessments,
            self.health,
            now,
            include_sources=sources,
            extra=forecast_alerts,
        )
        result.alerts_opened, result.alerts_resolved = opened, resolved
        # Evicted only after the batch: the decisions above still saw these runs.
        self._evict(a.run for a in result.assessments if a.verdict.is_final)
        return result
