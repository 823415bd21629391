"""When will a run's last calibration be provable: a median and an 80% interval.

The forecast is empirical and deterministic (ADR 11). From the history of final runs, each
workflow contributes samples of its three steps, as offsets from its run's stop: the first
harvest file, the first upload marker, and the proof (an IOV in every destination tag, or the
evidence of no payload); a sample that ended in a failure carries its failure kind instead of
a proof (``forecast_history`` keeps them; ``forecast_steps`` reads them from what a run
knows). For one open run, ``forecast_run``:

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
   group waits, else by bisection to ``RESOLUTION_S``; there is no random draw (that
   arithmetic is ``forecast_quantiles``);
5. the chance that some workflow fails instead is ``1 - prod(1 - p_w)``, with ``p_w`` the
   workflow's observed failure rate. The times above are those of success.

Every time is conditioned on the step now under way, so the forecast of a workflow waiting
for its proof never lies before now, and it only moves later while nothing happens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from spyagency.domain.forecast_history import MIN_SAMPLES, SamplePool, StepHistory
from spyagency.domain.forecast_quantiles import (
    HarvestGroup,
    exact_quantile,
    numeric_quantile,
    spread,
)
from spyagency.domain.states import FAILURE_STATES, WorkflowState

# Fewer samples than this slower than the current step so far (after conditioning): the
# forecast is not known (as with fewer than ``MIN_SAMPLES`` proven ones).
MIN_CONDITIONED = 5
LOW, MEDIAN, HIGH = 0.10, 0.50, 0.90
QUANTILES = (LOW, MEDIAN, HIGH)
# States whose step began at the run stop (the harvest has not written anything yet).
BEFORE_HARVEST = frozenset({WorkflowState.WAITING_EXPRESS, WorkflowState.HARVESTING})


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


def _step_of(progress: WorkflowProgress) -> str | None:
    if progress.state in BEFORE_HARVEST:
        return "stop"
    if progress.state is WorkflowState.HARVESTED:
        return "harvest"
    if progress.state is WorkflowState.UPLOAD_ATTEMPTED:
        return "marker"
    return None


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
    waiting: dict[str, list[tuple[WorkflowProgress, SamplePool]]] = {}
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
        low, median, high = (at(exact_quantile([column], q)) for q in QUANTILES)
        items[item.workflow] = WorkflowForecast(
            item.workflow, median, low, high, pool.proven, pool.failure_rate
        )
    groups: list[HarvestGroup] = []
    for members in waiting.values():
        # The harvest's end, from the member with the most proven samples (same job).
        _, lead = max(members, key=lambda member: member[1].proven)
        harvests = lead.harvests(elapsed_since_stop)
        _enough(members[0][0].workflow, harvests, lead)
        points = spread(harvests)
        group = HarvestGroup(points, tuple(pool.after_harvest for _, pool in members))
        groups.append(group)
        for member, pool in members:
            alone = HarvestGroup(points, (pool.after_harvest,))
            low, median, high = (at(numeric_quantile([], [alone], q)) for q in QUANTILES)
            items[member.workflow] = WorkflowForecast(
                member.workflow, median, low, high, pool.proven, pool.failure_rate
            )
    if groups:
        low, median, high = (at(numeric_quantile(columns, groups, q)) for q in QUANTILES)
    else:
        low, median, high = (at(exact_quantile(columns, q)) for q in QUANTILES)
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


def _enough(workflow: str, found: Sequence[float], pool: SamplePool) -> None:
    if len(found) < MIN_CONDITIONED:
        raise _Unknown(
            f"{workflow} has been at its step longer than all but {len(found)} "
            f"of {pool.proven} past runs"
        )
