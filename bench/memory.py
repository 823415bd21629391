"""Memory: the engine's resident memory with two simulated years stored.

Seeds a SQLite store through the real ``Evaluator.ingest`` with ``--runs`` healthy collisions
runs spread over two years (about 140 observations each for 17 workflows, then the Tier-0
locking and releasing them: every run closed and final, with its run state, events and
readiness signal stored). Then starts the engine in a child process as ``spyagency engine``
builds it (``build_runtime`` with no source configured) and replays the store
(``Evaluator.load``) plus one tick, and reads the child's ``VmRSS`` and peak ``VmHWM`` from
``/proc``. A second child does the same on an empty store: the fixed cost of the program.

When the figure is over the limit (or with ``--trace``), a third child loads a smaller store
(``--trace-runs``, seeded the same way; the shares are the same, and tracing the full store
would take many minutes) under ``tracemalloc`` and prints the source lines that hold the most
memory.

Target: resident memory at most 200 MB.

    .venv/bin/python bench/memory.py [--runs 3000] [--runs-per-report 20] [--trace]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import multiprocessing
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

from _common import proven_run, released_run

from spyagency.store import Store

DAYS = 730
FIRST_RUN = 360000
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LIMIT_MB = 200.0


def seed(url: str, runs: int, runs_per_report: int) -> int:
    """Runs over two years, newest last, fed to the engine as spies would; returns how many
    observations were stored."""
    from spyagency.bootstrap import build_runtime
    from spyagency.config.loading import parse_settings
    from spyagency.domain.catalogue import load_catalogue
    from spyagency.domain.clock import ManualClock
    from spyagency.domain.observation import Observation
    from spyagency.domain.states import Source
    from spyagency.spies.scope import SpyReport

    catalogue = load_catalogue()
    first_stop = NOW - timedelta(days=DAYS)
    spacing = timedelta(days=DAYS) / runs
    clock = ManualClock(first_stop)
    runtime = build_runtime(parse_settings({"database": {"url": url}}), clock=clock)
    evaluator = runtime.agency.evaluator
    evaluator.load()

    def feed(source: Source, observations: list[Observation]) -> None:
        at = max(item.observed_at for item in observations)
        clock.set(max(clock.now(), at))
        report = SpyReport(source=source, started_at=at, finished_at=at)
        report.observations = observations
        evaluator.ingest(report)

    try:
        for first in range(0, runs, runs_per_report):
            group = range(first, min(runs, first + runs_per_report))
            proven: list[Observation] = []
            released: list[Observation] = []
            for index in group:
                stop = first_stop + spacing * index
                proven.extend(proven_run(FIRST_RUN + index, stop, catalogue))
                released.extend(released_run(FIRST_RUN + index, stop))
            # One report for the whole group: each run is judged once per report, which keeps
            # the seeding quick; what ends up stored is the same as with one report per source.
            feed(Source.TIER0, proven)
            feed(Source.TIER0, released)
        with runtime.store.read() as tx:
            stored = tx.observations.count()
            final = sum(1 for record in tx.states.list_runs(limit=None) if record.verdict.is_final)
    finally:
        runtime.store.dispose()
    if final != runs:
        raise RuntimeError(f"only {final} of {runs} seeded runs are final")
    return stored


def status_mb(pid: int) -> dict[str, float]:
    """``VmRSS`` and ``VmHWM`` of a process, in MB."""
    figures: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            figures[name] = int(value.split()[0]) / 1024
    return figures


def engine_child(url: str, pipe: Connection, trace: bool) -> None:
    """Build the engine as the command does, replay the store, report, wait to be measured."""
    from spyagency.bootstrap import build_runtime
    from spyagency.config.loading import parse_settings
    from spyagency.domain.clock import ManualClock

    runtime = build_runtime(parse_settings({"database": {"url": url}}), clock=ManualClock(NOW))
    evaluator = runtime.agency.evaluator
    gc.collect()
    before = None
    if trace:  # from here on only: tracing the imports would take minutes and is not history
        tracemalloc.start(8)
        before = tracemalloc.take_snapshot()
    started = time.perf_counter()
    replayed = evaluator.load()
    evaluator.tick()
    evaluator.scope()
    seconds = time.perf_counter() - started
    gc.collect()
    lines: list[str] = []
    if before is not None:
        # Only what the load added: the program's own code and imports are the baseline.
        after = tracemalloc.take_snapshot()
        grown = after.compare_to(before, "lineno")
        total = sum(stat.size_diff for stat in grown)
        lines.append(f"tracemalloc: {total / 2**20:.1f} MB more traced after the load")
        for stat in grown[:10]:
            frame = stat.traceback[0]
            where = f"{_short(frame.filename)}:{frame.lineno}"
            lines.append(f"  {stat.size_diff / 2**20:7.2f} MB {stat.count_diff:9d} blocks  {where}")
        lines.append("  by the innermost engine frame that caused them:")
        for where, size in _by_spyagency_frame(after.compare_to(before, "traceback"))[:6]:
            lines.append(f"  {size / 2**20:7.2f} MB  {where}")
    if before is not None:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        lines.append(f"  peak traced during the load: {peak:.1f} MB; the reads it makes, alone:")
        lines.extend(f"    {line}" for line in _read_peaks(runtime.store))
    pipe.send((replayed, len(evaluator.knowledge.runs), seconds, lines))
    pipe.recv()  # measured
    # Hand freed heap back to the system: what is left is what the engine really holds.
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    pipe.send("trimmed")
    pipe.recv()  # measured again: may go


def _read_peaks(store: Store) -> list[str]:
    """The traced peak of each store read ``Evaluator.load`` makes, one at a time."""
    found = []
    with store.read() as tx:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        records = tx.states.list_runs(limit=None)
        peak = tracemalloc.get_traced_memory()[1] - base
        found.append(f"states.list_runs(limit=None): {len(records)} runs, {peak / 2**20:.1f} MB")
        del records
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        count = sum(1 for _ in tx.observations.iter_all())
        peak = tracemalloc.get_traced_memory()[1] - base
        found.append(f"observations.iter_all(): {count} observations, {peak / 2**20:.1f} MB")
    return found


def _short(filename: str) -> str:
    marker = "site-packages/"
    if marker in filename:
        return filename.split(marker, 1)[1]
    return filename.split("/src/", 1)[-1]


def _by_spyagency_frame(grown: list[tracemalloc.StatisticDiff]) -> list[tuple[str, int]]:
    sizes: dict[str, int] = {}
    for stat in grown:
        frame = next(
            (f for f in stat.traceback if "spyagency" in f.filename and "bench" not in f.filename),
            stat.traceback[0],
        )
        where = f"{_short(frame.filename)}:{frame.lineno}"
        sizes[where] = sizes.get(where, 0) + stat.size_diff
    return sorted(sizes.items(), key=lambda item: -item[1])


def measure(url: str, trace: bool = False) -> tuple[dict[str, float], int, int, float, list[str]]:
    context = multiprocessing.get_context("spawn")
    parent, child_end = context.Pipe()
    child = context.Process(target=engine_child, args=(url, child_end, trace))
    child.start()
    try:
        replayed, runs, seconds, lines = parent.recv()
        assert child.pid is not None
        figures = status_mb(child.pid)
        parent.send("measured")
        parent.recv()
        figures["trimmed"] = status_mb(child.pid)["VmRSS"]
        parent.send("done")
        child.join(30)
    finally:
        if child.is_alive():
            child.terminate()
            child.join(10)
    return figures, replayed, runs, seconds, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--runs-per-report", type=int, default=20)
    parser.add_argument("--trace", action="store_true", help="always run the tracemalloc child")
    parser.add_argument("--trace-runs", type=int, default=300)
    options = parser.parse_args()

    from spyagency.store import upgrade

    with tempfile.TemporaryDirectory() as folder:
        empty = f"sqlite:///{Path(folder) / 'empty.db'}"
        url = f"sqlite:///{Path(folder) / 'two-years.db'}"
        upgrade(empty)
        upgrade(url)
        started = time.perf_counter()
        stored = seed(url, options.runs, options.runs_per_report)
        size = Path(folder, "two-years.db").stat().st_size / 2**20
        print(
            f"seeded {options.runs} final runs over {DAYS} days, {stored} observations "
            f"({size:.0f} MB of SQLite) in {time.perf_counter() - started:.0f} s"
        )
        base, _, _, _, _ = measure(empty)
        figures, replayed, runs, seconds, _ = measure(url)
        print(f"empty store:  VmRSS {base['VmRSS']:6.1f} MB  VmHWM {base['VmHWM']:6.1f} MB")
        print(
            f"two years:    VmRSS {figures['VmRSS']:6.1f} MB  VmHWM {figures['VmHWM']:6.1f} MB "
            f"({replayed} observations of {runs} runs replayed in {seconds:.1f} s)"
        )
        print(
            f"after malloc_trim(0): VmRSS {figures['trimmed']:6.1f} MB "
            f"(empty store: {base['trimmed']:.1f} MB)"
        )
        growth = figures["VmRSS"] - base["VmRSS"]
        per_observation = growth * 2**20 / max(1, replayed)
        print(f"held for the history: {growth:.1f} MB ({per_observation:.0f} B per observation)")
        if options.trace or figures["VmRSS"] > LIMIT_MB:
            small = f"sqlite:///{Path(folder) / 'traced.db'}"
            upgrade(small)
            seed(small, min(options.runs, options.trace_runs), options.runs_per_report)
            _, replayed, *_, lines = measure(small, trace=True)
            print(f"where the memory goes, traced on {replayed} observations:")
            for line in lines:
                print(line)
    print(f"RSS_MB {figures['VmRSS']:.1f} PEAK_MB {figures['VmHWM']:.1f}")
    print(f"RATIO {figures['VmRSS'] / LIMIT_MB:.3f} LIMIT 1 ({LIMIT_MB:g} MB)")


if __name__ == "__main__":
    main()
