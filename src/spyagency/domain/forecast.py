"""When will a run's last calibration be provable: a median and an 80% interval.

The forecast is empirical and deterministic (ADR 11). From the history of final runs, each
workflow contributes samples of its three steps, as offsets from its run's stop: the first
harvest file, the first upload marker, and the proof (an IOV in every destination tag, or the
evidence of no payload); a sample that ended in a failure carries its failure kind instead of
a proof. For one open run, ``forecast_run``:

1. takes the counted workflows (not optional, not ignored); the run has no forecast while
   it takes data, while one of them is failed (an expert decides) or unknown;
2. per workflow already proven: a point at its ``proven_at``;
3. per workflow still under way: the history of that workflow (of the run's class when it
   holds at least ``min_samples`` proven samples, else of every class), conditioned on the
   step it is in and the time already spent in it. Only samples whose step lasted longer
   than the time spent so far are kept; each gives a completion ``step start + (proof -
   step start in that sample)``. Fewer than ``min_samples`` proven samples, or fewer than
   ``MIN_CONDITIONED`` left after conditioning: no forecast, with the reason;
4. the run's completion is the latest of its workflows' completions. Workflows still waiting
   for their harvest share it when they share their Express streams (one harvest job): for
   them the end of that step ``H`` is drawn once, from the samples of the member with the
   most history, and what follows it (``U_w``, the proof after the step) for each one;
   everything else is taken as independent. The run's distribution function is then the
   product of the independent workflows' and of each group's ``E_H[prod_w F_U_w(t - H)]``
   (averaged over ``HARVEST_POINTS`` evenly ranked values of ``H``). The median and the 10th
   and 90th percentiles are read from it: exactly (one of the sample completions) when no
   group waits, else by bisection to ``RESOLUTION_S``; there is no random draw;
5. the chance that some workflow fails instead is ``1 - prod(1 - p_w)``, with ``p_w`` the
   workflow's observed failure rate. The times above are those of success.

Every time is conditioned on the step now under way, so the forecast of a workflow waiting
for its proof never lies before now, and it only moves later while nothing happens.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from spyagency.domain.states import FAILURE_STATES, WorkflowState

# Fewer proven past runs than this for a workflow: its forecast is not known.
MIN_SAMPLES = 20
# Fewer samples than this slower than the current step so far: not known either.
MIN_CONDITIONED = 5
# Only the most recent samples of a workflow count (what the Tier-0 does now, and a bound
# on the cost of a forecast).
MAX_SAMPLES = 400
WINDOW = timedelta(days=90)
LOW, MEDIAN, HIGH = 0.10, 0.50, 0.90
QUANTILES = (LOW, MEDIAN, HIGH)
# States whose step began at the run stop (the harvest has not written anything yet).
BEFORE_HARVEST = frozenset({WorkflowState.WAITING_EXPRESS, WorkflowState.HARVESTING})


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


@dataclass(frozen=True)
class WorkflowProgress:
    """Where one counted workflow of an open run stands."""

    workflow: str
    state: WorkflowState
    # When its current step began: the run stop before the harvest, the first harvest file
    # once harvested, the first upload marker once an upload was attempted.
    step_started: datetime | None = None
    proven_at: datetime | None = None
    # Workflows harvested by one job (those of the same Express streams) share its time.
    group: str = ""


@dataclass(frozen=True)
class RunProgress:
    run: int
    run_class: str | None
    stop: datetime | None
    workflows: tuple[WorkflowProgress, ...]


@dataclass(frozen=True)
class WorkflowForecast:
    workflow: str
    median: datetime | None
    low: datetime | None
    high: datetime | None
    samples: int  # proven past samples behind it (0 for a proven workflow)
    failure_chance: float


@dataclass(frozen=True)
class Forecast:
    """The forecast of one run; ``reason`` says why it is not known (then no times)."""

    run: int
    made_at: datetime
    median: datetime | None = None
    low: datetime | None = None
    high: datetime | None = None
    reason: str | None = None
    samples: int = 0  # fewest proven past samples behind any workflow still under way
    failure_chance: float = 0.0
    workflows: tuple[WorkflowForecast, ...] = ()

    @property
    def known(self) -> bool:
        return self.reason is None


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
        self._pools: dict[tuple[str, str | None], _Pool] | None = None
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

    def pool(self, workflow: str, run_class: str | None, now: datetime) -> _Pool:
        """The samples of ``workflow`` for ``run_class`` when there are enough proven ones,
        else those of every class."""
        pools = self._indexed(now)
        own = pools.get((workflow, run_class))
        if own is not None and own.proven >= MIN_SAMPLES:
            return own
        return pools.get((workflow, None)) or _Pool.of(())

    def _indexed(self, now: datetime) -> dict[tuple[str, str | None], _Pool]:
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
                key: _Pool.of(sorted(items, key=lambda s: (s.stop, s.run))[-self.max_samples :])
                for key, items in grouped.items()
            }
        return self._pools


@dataclass(frozen=True)
class _Pool:
    """One workflow's samples, arranged for conditioning on each step: per step, pairs of
    (how long that step lasted, proof offset from the step start) sorted by the first."""

    proven: int
    failures: int
    by_step: Mapping[str, tuple[tuple[float, ...], tuple[float, ...]]] = field(default_factory=dict)
    after_harvest: tuple[float, ...] = ()

    @classmethod
    def of(cls, samples: Iterable[StepSample]) -> _Pool:
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


def _step_of(progress: WorkflowProgress) -> str | None:
    if progress.state in BEFORE_HARVEST:
        return "stop"
    if progress.state is WorkflowState.HARVESTED:
        return "harvest"
    if progress.state is WorkflowState.UPLOAD_ATTEMPTED:
        return "marker"
    return None


@dataclass(frozen=True)
class _Group:
    """Workflows waiting for one harvest job: its end ``H`` is shared, what follows it
    (``U_w``) is each one's own. ``P(max_w (H + U_w) <= t)`` averages, over
    ``HARVEST_POINTS`` evenly ranked values of ``H``, the product of the ``U_w``'s
    distribution functions."""

    harvests: tuple[float, ...]
    columns: tuple[tuple[float, ...], ...]

    def cdf(self, t: float) -> float:
        total = 0.0
        for harvest in self.harvests:
            total += _cdf(self.columns, t - harvest)
        return total / len(self.harvests)


# Values of the shared harvest time the grouped distribution is averaged over.
HARVEST_POINTS = 8
# The bisection over time stops within this many seconds of the quantile.
RESOLUTION_S = 60.0


def _spread(values: Sequence[float], points: int = HARVEST_POINTS) -> tuple[float, ...]:
    """``points`` values of ``values`` (sorted) at evenly spaced ranks (all when fewer)."""
    if len(values) <= points:
        return tuple(values)
    return tuple(values[int((index + 0.5) * len(values) / points)] for index in range(points))


class _Unknown(Exception):
    """The forecast cannot be made: its message says why."""


def forecast_run(
    progress: RunProgress,
    history: StepHistory,
    now: datetime,
    *,
    min_samples: int = MIN_SAMPLES,
) -> Forecast:
    """The forecast of ``progress`` at ``now`` (see the module docstring)."""
    run = progress.run
    stop = progress.stop
    if stop is None:
        return Forecast(run, now, reason="the run is still taking data")
    if not progress.workflows:
        return Forecast(run, now, reason="no calibration to wait for")
    failed = [w for w in progress.workflows if w.state in FAILURE_STATES]
    if failed:
        names = ", ".join(f"{w.workflow} {w.state.value}" for w in failed)
        return Forecast(run, now, reason=f"needs an expert first: {names}")
    try:
        return _forecast(progress, stop, history, now, min_samples)
    except _Unknown as unknown:
        return Forecast(run, now, reason=str(unknown))


def _forecast(
    progress: RunProgress,
    stop: datetime,
    history: StepHistory,
    now: datetime,
    min_samples: int,
) -> Forecast:
    # Each factor of the run's distribution function, as seconds after the stop: sorted
    # completions of one workflow (independent of the others), or a group sharing a harvest.
    columns: list[tuple[float, ...]] = []
    waiting: dict[str, list[tuple[WorkflowProgress, _Pool]]] = {}
    items: dict[str, WorkflowForecast] = {}
    fewest: int | None = None
    survive = 1.0
    elapsed_since_stop = max(0.0, (now - stop).total_seconds())

    def at(offset: float) -> datetime:
        return stop + timedelta(seconds=offset)

    for item in progress.workflows:
        if item.state.is_satisfied:
            moment = item.proven_at or stop
            columns.append(((moment - stop).total_seconds(),))
            items[item.workflow] = WorkflowForecast(item.workflow, moment, moment, moment, 0, 0.0)
            continue
        step = _step_of(item)
        if step is None or item.step_started is None:
            raise _Unknown(f"the state of {item.workflow} is not known")
        pool = history.pool(item.workflow, progress.run_class, now)
        if pool.proven < min_samples:
            raise _Unknown(
                f"too little history for {item.workflow}: {pool.proven} proven past run(s), "
                f"{min_samples} needed"
            )
        fewest = pool.proven if fewest is None else min(fewest, pool.proven)
        survive *= 1.0 - pool.failure_rate
        if step == "stop":
            waiting.setdefault(item.group, []).append((item, pool))
            continue
        elapsed = max(0.0, (now - item.step_started).total_seconds())
        found = pool.completions(step, elapsed)
        _enough(item.workflow, found, pool)
        base = (item.step_started - stop).total_seconds()
        column = tuple(base + value for value in found)
        columns.append(column)
        low, median, high = (at(_exact_quantile([column], q)) for q in QUANTILES)
        items[item.workflow] = WorkflowForecast(
            item.workflow, median, low, high, pool.proven, pool.failure_rate
        )
    groups: list[_Group] = []
    for members in waiting.values():
        # The harvest's end, from the member with the most proven samples (same job).
        _, lead = max(members, key=lambda member: member[1].proven)
        harvests = lead.harvests(elapsed_since_stop)
        _enough(members[0][0].workflow, harvests, lead)
        spread = _spread(harvests)
        group = _Group(spread, tuple(pool.after_harvest for _, pool in members))
        groups.append(group)
        for member, pool in members:
            alone = _Group(spread, (pool.after_harvest,))
            low, median, high = (at(_numeric_quantile([], [alone], q)) for q in QUANTILES)
            items[member.workflow] = WorkflowForecast(
                member.workflow, median, low, high, pool.proven, pool.failure_rate
            )
    if groups:
        low, median, high = (at(_numeric_quantile(columns, groups, q)) for q in QUANTILES)
    else:
        low, median, high = (at(_exact_quantile(columns, q)) for q in QUANTILES)
    return Forecast(
        progress.run,
        now,
        median=median,
        low=low,
        high=high,
        samples=fewest or 0,
        failure_chance=1.0 - survive,
        workflows=tuple(items[w.workflow] for w in progress.workflows),
    )


def _enough(workflow: str, found: Sequence[float], pool: _Pool) -> None:
    if len(found) < MIN_CONDITIONED:
        raise _Unknown(
            f"{workflow} has been at its step longer than all but {len(found)} "
            f"of {pool.proven} past runs"
        )


def _cdf(columns: Sequence[Sequence[float]], t: float) -> float:
    """P(max <= t) with independent columns, each an empirical distribution (sorted)."""
    product = 1.0
    for column in columns:
        product *= bisect.bisect_right(column, t) / len(column)
        if product == 0.0:
            return 0.0
    return product


def _exact_quantile(columns: Sequence[Sequence[float]], q: float) -> float:
    """The smallest sample value ``t`` with ``P(max <= t) >= q``: exact, one of the values.

    A bisection over time that, at each turn, first tries the next sample value above its
    lower end: it ends on a value, in a few dozen distribution evaluations."""
    lo = max(column[0] for column in columns)  # below it the product is zero
    if _cdf(columns, lo) >= q:
        return lo
    hi = max(column[-1] for column in columns)  # there the product is one
    # Invariant: cdf(lo) < q <= cdf(hi); the answer is a sample value in (lo, hi].
    while True:
        following = min(
            column[index]
            for column in columns
            if (index := bisect.bisect_right(column, lo)) < len(column)
        )
        if _cdf(columns, following) >= q:
            return following
        lo = following
        middle = (lo + hi) / 2
        if _cdf(columns, middle) >= q:
            hi = middle
        else:
            lo = middle


def _numeric_quantile(
    columns: Sequence[Sequence[float]], groups: Sequence[_Group], q: float
) -> float:
    """The time ``t`` (within ``RESOLUTION_S``, never below) where the product of the
    columns' and the groups' distribution functions first reaches ``q``."""

    def cdf(t: float) -> float:
        product = _cdf(columns, t)
        for group in groups:
            if product == 0.0:
                return 0.0
            product *= group.cdf(t)
        return product

    lo = max((column[0] for column in columns), default=0.0)
    lo = max([lo, *(min(g.harvests) for g in groups)])
    hi = max((column[-1] for column in columns), default=0.0)
    hi = max([hi, *(max(g.harvests) + max(c[-1] for c in g.columns) for g in groups)])
    if cdf(lo) >= q:
        return lo
    while hi - lo > RESOLUTION_S:
        middle = (lo + hi) / 2
        if cdf(middle) >= q:
            hi = middle
        else:
            lo = middle
    return hi
