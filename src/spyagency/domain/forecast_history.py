"""The forecast's memory: past runs' step times, indexed for conditioning on a step.

A forecast is only as good as the history it draws from, and drawing from it must be cheap:
the engine forecasts every open run at every tick. This module holds that history, one
``StepSample`` per workflow of a final run, and keeps it bounded (a window of run stops and
at most the latest samples per workflow and run class). It answers one question, quickly:
for a workflow now at a given step, which past samples outlasted the time already spent in
that step, and what came after. The arithmetic on those answers is in ``forecast_quantiles``;
their use for one open run in ``forecast``.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from spyagency.domain.states import WorkflowState

# Fewer proven past runs than this for a workflow: its forecast is not known.
MIN_SAMPLES = 20
# Only the most recent samples of a workflow count (what the Tier-0 does now, and a bound
# on the cost of a forecast).
MAX_SAMPLES = 400
WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class StepSample:
    """One workflow of one final run: its steps as seconds after the run stop."""

    run: int
    workflow: str
    run_class: str | None
    stop: datetime
    harvest_s: float | None  # first harvest file
    marker_s: float | None  # first upload marker
    proof_s: float | None  # proven (in the CondDB, or no payload by design); None if failed
    failure: WorkflowState | None = None  # the failure state it ended in

    @property
    def proven(self) -> bool:
        return self.proof_s is not None


class StepHistory:
    """Step samples of final runs, per workflow and run class, newest last, within a window.

    Built once from the store and kept current by adding each run as it becomes final.
    Adding a run again replaces its samples (a final run re-judged after late news).
    """

    def __init__(
        self,
        samples: Iterable[StepSample] = (),
        *,
        window: timedelta = WINDOW,
        max_samples: int = MAX_SAMPLES,
    ) -> None:
        self.window = window
        self.max_samples = max_samples
        self._by_run: dict[int, tuple[StepSample, ...]] = {}
        self._pools: dict[tuple[str, str | None], SamplePool] | None = None
        self._earliest: datetime | None = None  # the oldest run stop held (None: scan)
        by_run: dict[int, list[StepSample]] = {}
        for sample in samples:
            by_run.setdefault(sample.run, []).append(sample)
        for run, items in by_run.items():
            self._by_run[run] = tuple(items)

    def add_run(self, run: int, samples: Sequence[StepSample]) -> None:
        self._by_run[run] = tuple(samples)
        self._pools = None
        self._earliest = None

    def __len__(self) -> int:
        return sum(len(items) for items in self._by_run.values())

    def runs(self) -> frozenset[int]:
        return frozenset(self._by_run)

    def pool(self, workflow: str, run_class: str | None, now: datetime) -> SamplePool:
        """The samples of ``workflow`` for ``run_class`` when there are enough proven ones,
        else those of every class."""
        pools = self._indexed(now)
        own = pools.get((workflow, run_class))
        if own is not None and own.proven >= MIN_SAMPLES:
            return own
        return pools.get((workflow, None)) or SamplePool.of(())

    def _indexed(self, now: datetime) -> dict[tuple[str, str | None], SamplePool]:
        oldest = now - self.window
        stale: list[int] = []
        # Scanned only when the oldest run has left the window (not at every forecast).
        if self._earliest is None or self._earliest < oldest:
            stale = [r for r, items in self._by_run.items() if items and items[0].stop < oldest]
            for run in stale:
                del self._by_run[run]
            stops = [items[0].stop for items in self._by_run.values() if items]
            self._earliest = min(stops, default=None)
        if self._pools is None or stale:
            grouped: dict[tuple[str, str | None], list[StepSample]] = {}
            for items in self._by_run.values():
                for sample in items:
                    grouped.setdefault((sample.workflow, sample.run_class), []).append(sample)
                    if sample.run_class is not None:
                        grouped.setdefault((sample.workflow, None), []).append(sample)
            self._pools = {
                key: SamplePool.of(
                    sorted(items, key=lambda s: (s.stop, s.run))[-self.max_samples :]
                )
                for key, items in grouped.items()
            }
        return self._pools


@dataclass(frozen=True)
class SamplePool:
    """One workflow's samples, arranged for conditioning on each step: per step, pairs of
    (how long that step lasted, proof offset from the step start) sorted by the first."""

    proven: int
    failures: int
    by_step: Mapping[str, tuple[tuple[float, ...], tuple[float, ...]]] = field(default_factory=dict)
    after_harvest: tuple[float, ...] = ()

    @classmethod
    def of(cls, samples: Iterable[StepSample]) -> SamplePool:
        items = list(samples)
        proven = [s for s in items if s.proof_s is not None]
        steps: dict[str, list[tuple[float, float]]] = {"stop": [], "harvest": [], "marker": []}
        for s in proven:
            assert s.proof_s is not None
            # A step skipped between two looks (harvest and marker in one poll) ends at the
            # next milestone seen.
            first = s.harvest_s if s.harvest_s is not None else s.marker_s
            steps["stop"].append((first if first is not None else s.proof_s, s.proof_s))
            if s.harvest_s is not None:
                end = s.marker_s if s.marker_s is not None else s.proof_s
                steps["harvest"].append((end - s.harvest_s, s.proof_s - s.harvest_s))
            if s.marker_s is not None:
                left = s.proof_s - s.marker_s
                steps["marker"].append((left, left))
        arranged = {}
        for step, pairs in steps.items():
            pairs.sort()
            arranged[step] = (tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))
        # From the end of the step after the stop to the proof: what follows a harvest.
        after = tuple(sorted(proof - lasted for lasted, proof in steps["stop"]))
        return cls(len(proven), len(items) - len(proven), arranged, after)

    @property
    def failure_rate(self) -> float:
        total = self.proven + self.failures
        return self.failures / total if total else 0.0

    def harvests(self, elapsed: float) -> tuple[float, ...]:
        """When the step after the stop ended (sorted), in the samples where it outlasted
        ``elapsed``."""
        lasted = self.by_step.get("stop", ((), ()))[0]
        return lasted[bisect.bisect_right(lasted, elapsed) :]

    def completions(self, step: str, elapsed: float) -> list[float]:
        """Proof offsets from the step start of the samples whose step outlasted
        ``elapsed``, sorted."""
        lasted, proofs = self.by_step.get(step, ((), ()))
        start = bisect.bisect_right(lasted, elapsed)
        return sorted(proofs[start:])
