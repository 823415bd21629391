"""Forecast: every open run's forecast on a year of history, against 100 ms.

Builds the step history of a year of final runs (``--runs`` collisions runs, every Express
workflow of the shipped catalogue proven, a few percent failed; step times drawn from
log-normal spreads with a seeded generator, each workflow with its own typical delay), then
``--open`` open runs spread over the steps a live agency sees at once: runs whose workflows
all wait for their harvest, runs harvested, runs whose uploads are under way, and runs part
proven. It forecasts all of them as the engine does after a tick (``forecast_run`` per run
with one ``StepHistory``), ``--repeat`` times:

* ``COLD_MS``: the first pass, which indexes the history (once per new final run);
* ``P50_MS`` and ``MAX_MS``: the passes after it, what each engine evaluation costs.

Times are the process's CPU time (``time.process_time``): on a shared machine, wall time
measures the neighbours; the forecast is pure computation in one thread, so its CPU time is
what it costs.

The history keeps a year here (window 365 days, ``MAX_SAMPLES`` per workflow and class), not
the engine's 90 days: more than the engine ever holds.

    .venv/bin/python bench/forecast.py [--runs 1500] [--open 20] [--repeat 30]

Last line: ``RATIO`` = the median pass after the first / 100 ms (limit 1).
"""

from __future__ import annotations

import argparse
import math
import random
import time
from datetime import UTC, datetime, timedelta

from _common import median

from spyagency.domain.catalogue import load_catalogue
from spyagency.domain.forecast import RunProgress, WorkflowProgress, forecast_run
from spyagency.domain.forecast_history import StepHistory, StepSample
from spyagency.domain.states import WorkflowState

LIMIT_MS = 100.0
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
HOUR = 3600.0
RUN_CLASS = "Collisions26"
COSMICS_STREAM = "ExpressCosmics"


def lognormal(rng: random.Random, median_s: float, sigma: float) -> float:
    return median_s * math.exp(rng.gauss(0.0, sigma))


def year_of_history(runs: int, rng: random.Random) -> tuple[StepHistory, dict[str, str]]:
    """The history, and each workflow's harvest group (its streams)."""
    catalogue = load_catalogue()
    specs = [s for s in catalogue.workflows if COSMICS_STREAM not in s.streams]
    groups = {spec.name: ",".join(spec.streams) for spec in specs}
    scale = {spec.name: 0.5 + 2.0 * rng.random() for spec in specs}
    samples = []
    for index in range(runs):
        stop = NOW - timedelta(days=365) + timedelta(days=365 * index / runs)
        harvest_by_group: dict[str, float] = {}
        for spec in specs:
            group = groups[spec.name]
            if group not in harvest_by_group:
                harvest_by_group[group] = lognormal(rng, 85 * 60, 0.35)
            harvest = harvest_by_group[group]
            marker = harvest + lognormal(rng, 60, 0.5)
            late = rng.random() < 0.02
            delay = lognormal(rng, 24 * HOUR, 0.4) if late else lognormal(rng, 15 * 60, 0.8)
            proof = marker + delay * scale[spec.name]
            failed = rng.random() < 0.005
            samples.append(
                StepSample(
                    run=300000 + index,
                    workflow=spec.name,
                    run_class=RUN_CLASS,
                    stop=stop,
                    harvest_s=harvest,
                    marker_s=marker,
                    proof_s=None if failed else proof,
                    failure=WorkflowState.UPLOAD_FAILED if failed else None,
                )
            )
    return StepHistory(samples, window=timedelta(days=365)), groups


def open_runs(count: int, groups: dict[str, str]) -> list[RunProgress]:
    """Open runs in the four shapes of the module docstring, each stopped long enough ago
    for its shape: waiting for the harvest (10-60 min after the stop), harvested (80 min
    after it), uploads under way (marker 90 min after it), part proven."""
    found = []
    for index in range(count):
        shape = index % 4
        ago = (10 + 5 * index) if shape == 0 else (100 + 10 * index)
        stop = NOW - timedelta(minutes=ago)
        items = []
        for position, (name, group) in enumerate(sorted(groups.items())):
            harvested = stop + timedelta(minutes=80)
            marker = stop + timedelta(minutes=90)
            if shape == 0:
                items.append(WorkflowProgress(name, WorkflowState.HARVESTING, stop, group=group))
            elif shape == 1:
                items.append(WorkflowProgress(name, WorkflowState.HARVESTED, harvested))
            elif shape == 2 or position % 2 == 0:
                items.append(WorkflowProgress(name, WorkflowState.UPLOAD_ATTEMPTED, marker))
            else:
                proven = stop + timedelta(minutes=95)
                items.append(WorkflowProgress(name, WorkflowState.IN_DB, proven_at=proven))
        found.append(RunProgress(400000 + index, RUN_CLASS, stop, tuple(items)))
    return found


def one_pass(history: StepHistory, runs: list[RunProgress]) -> tuple[float, int]:
    began = time.process_time()
    known = sum(forecast_run(run, history, NOW).known for run in runs)
    return (time.process_time() - began) * 1000, known


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1500, help="final runs in the year")
    parser.add_argument("--open", type=int, default=20, help="open runs to forecast")
    parser.add_argument("--repeat", type=int, default=30, help="passes after the first")
    args = parser.parse_args()
    rng = random.Random(2026)
    history, groups = year_of_history(args.runs, rng)
    runs = open_runs(args.open, groups)
    cold, known = one_pass(history, runs)
    passes = [one_pass(history, runs)[0] for _ in range(args.repeat)]
    print(f"history: {len(history)} samples of {args.runs} runs, {len(groups)} workflows")
    print(f"open runs: {len(runs)}, forecast known for {known}")
    print(f"COLD_MS {cold:.1f}")
    print(f"P50_MS {median(passes):.1f}")
    print(f"MAX_MS {max(passes):.1f}")
    print(f"RATIO {median(passes) / LIMIT_MS:.3f} LIMIT 1 ({LIMIT_MS:g} ms for all open runs)")


if __name__ == "__main__":
    main()
