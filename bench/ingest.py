"""Ingest: observations per second evaluated and persisted, against a raw ``executemany``.

Builds the histories of ``--runs`` healthy collisions runs (about 140 observations each: run
metadata, express configurations, per workflow the harvested file, the upload marker, the
upload log, the IOVs, DQM and the harvest job), groups them the way spies report them (one
report per source per ``--runs-per-report`` runs, as a poll cycle would) and measures, each on
a freshly migrated store:

- agency: the engine built by ``build_runtime``, each poll cycle's reports (one per source)
  handed to ``Agency.ingest`` together, as pollers finishing together hand them in; the
  engine commits what queues up while it writes as one batch (group commit: one transaction,
  each touched run judged once). Every observation is news, so all of them are folded,
  judged, stored, with run states, events and readiness decisions;
- one report at a time: ``Evaluator.ingest`` of each report in turn (no grouping), for
  comparison;
- dedupe: the same reports a second time (nothing is news: only the dedupe is measured);
- raw: one SQLAlchemy ``executemany`` per poll cycle (the agency's transactions) of the
  identical rows (already encoded) into the same observations table: the store's limit.

Each form runs ``--repeat`` times, interleaved; the medians are compared. Target: agency rate
at least 25 % of the raw rate. ``--postgres URL`` (or ``SPYAGENCY_TEST_POSTGRES_URL``) adds
the PostgreSQL form; each repetition there gets a database of its own.

    .venv/bin/python bench/ingest.py [--runs 200] [--repeat 5] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import median, proven_run
from sqlalchemy import create_engine, insert, make_url, text

from spyagency.bootstrap import build_runtime
from spyagency.config.loading import parse_settings
from spyagency.domain.catalogue import load_catalogue
from spyagency.domain.clock import ManualClock
from spyagency.domain.observation import Observation
from spyagency.domain.states import Source
from spyagency.spies.scope import SpyReport
from spyagency.store import build_engine, upgrade
from spyagency.store.observations import _to_row
from spyagency.store.schema import observation

FIRST_RUN = 390000
START = datetime(2026, 6, 1, tzinfo=UTC)
RUN_SPACING = timedelta(hours=2)
RATIO_LIMIT = 0.25


@dataclass(frozen=True)
class Batch:
    """One spy report and the moment the engine received it."""

    at: datetime
    report: SpyReport


def build_batches(runs: int, runs_per_report: int) -> list[Batch]:
    """Reports in arrival order: per group of runs, one report per source."""
    catalogue = load_catalogue()
    batches: list[Batch] = []
    for first in range(0, runs, runs_per_report):
        group: list[Observation] = []
        for index in range(first, min(runs, first + runs_per_report)):
            group.extend(proven_run(FIRST_RUN + index, START + RUN_SPACING * index, catalogue))
        at = max(item.observed_at for item in group)
        for source in Source:
            seen = [item for item in group if item.source is source]
            if seen:
                report = SpyReport(source=source, started_at=at, observations=seen)
                report.finished_at = at
                batches.append(Batch(at, report))
    return batches


def steady_state(batches: list[Batch]) -> list[Batch]:
    """What the next polls would report: per fact key only the latest sighting (a spy never
    reports the "Processing" upload log again once it says "Finished")."""
    latest: dict[tuple[object, ...], Observation] = {}
    for batch in batches:
        for item in batch.report.observations:
            latest[(item.run, *item.key)] = item
    kept = []
    for batch in batches:
        seen = [o for o in batch.report.observations if latest[(o.run, *o.key)] is o]
        report = SpyReport(source=batch.report.source, started_at=batch.at, observations=seen)
        report.finished_at = batch.at
        kept.append(Batch(batch.at, report))
    return kept


def count(batches: list[Batch]) -> int:
    return sum(len(batch.report.observations) for batch in batches)


def cycles(batches: list[Batch]) -> list[list[Batch]]:
    """The reports of one poll cycle (every source's report about one group of runs)."""
    grouped: dict[datetime, list[Batch]] = {}
    for batch in batches:
        grouped.setdefault(batch.at, []).append(batch)
    return list(grouped.values())


def agency_rates(url: str, batches: list[Batch], grouped: bool) -> tuple[float, float, int]:
    """(news rate, dedupe rate, observations stored).

    ``grouped``: as the live engine gets them, each poll cycle's reports handed to
    ``Agency.ingest`` at once (the pollers finish together), which commits what queues up
    together (group commit). Else one ``Evaluator.ingest`` per report, one after the other.
    """
    clock = ManualClock(batches[0].at)
    settings = parse_settings({"database": {"url": url}})
    runtime = build_runtime(settings, clock=clock)
    evaluator = runtime.agency.evaluator

    async def hand_in(passing: list[Batch]) -> None:
        for cycle in cycles(passing):
            clock.set(max(clock.now(), cycle[0].at))
            if grouped:
                await asyncio.gather(*(runtime.agency.ingest(b.report) for b in cycle))
            else:
                for batch in cycle:
                    evaluator.ingest(batch.report)

    async def both_passes() -> tuple[list[float], int, int]:
        rates = []
        stored = 0
        # First pass: everything is news. Second pass: the same facts seen again.
        for passing in (batches, steady_state(batches)):
            started = time.perf_counter()
            await hand_in(passing)
            rates.append(count(passing) / (time.perf_counter() - started))
            if passing is batches:
                with runtime.store.read() as tx:
                    stored = tx.observations.count()
        with runtime.store.read() as tx:
            return rates, stored, tx.observations.count() - stored

    try:
        evaluator.load()
        rates, stored, stored_again = asyncio.run(both_passes())
    finally:
        runtime.store.dispose()
    if stored_again:
        raise RuntimeError(f"the repeated sightings stored {stored_again} observations")
    return rates[0], rates[1], stored


def raw_rate(url: str, batches: list[Batch]) -> float:
    """The same rows, one ``executemany`` per poll cycle in its own transaction: the
    transactions the agency's group commit writes (so fsyncs are not what is compared)."""
    rows = [
        [_to_row(item) for batch in cycle for item in batch.report.observations]
        for cycle in cycles(batches)
    ]
    engine = build_engine(url)
    try:
        started = time.perf_counter()
        for chunk in rows:
            with engine.begin() as connection:
                connection.execute(insert(observation), chunk)
        return sum(len(chunk) for chunk in rows) / (time.perf_counter() - started)
    finally:
        engine.dispose()


@contextmanager
def sqlite_store(folder: Path) -> Iterator[str]:
    url = f"sqlite:///{folder / f'ingest-{uuid.uuid4().hex[:8]}.db'}"
    upgrade(url)
    yield url


def postgres_store(server_url: str) -> Callable[[], Any]:
    """A context manager factory: a fresh, migrated database on ``server_url``'s server."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")

    @contextmanager
    def fresh() -> Iterator[str]:
        name = f"bench_ingest_{uuid.uuid4().hex[:10]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        try:
            upgrade(url)
            yield url
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return fresh


def measure(backend: str, fresh: Callable[[], Any], batches: list[Batch], repeat: int) -> float:
    total = count(batches)
    news: list[float] = []
    dedupe: list[float] = []
    single: list[float] = []
    raw: list[float] = []
    stored = 0
    for round_ in range(repeat):
        # Rotate which form goes first: a noisy neighbour should hit all alike.
        forms = ["agency", "single", "raw"]
        forms = forms[round_ % 3 :] + forms[: round_ % 3]
        for form in forms:
            with fresh() as url:
                if form == "agency":
                    rate, again, stored = agency_rates(url, batches, grouped=True)
                    news.append(rate)
                    dedupe.append(again)
                elif form == "single":
                    single.append(agency_rates(url, batches, grouped=False)[0])
                else:
                    raw.append(raw_rate(url, batches))
    ratio = median(news) / median(raw)
    print(
        f"{backend}: {total} observations in {len(batches)} reports "
        f"({len(cycles(batches))} poll cycles); stored by the agency {stored} (all news); "
        f"{repeat} repetitions, medians"
    )
    print(f"  agency ingest (news)    {median(news):9.0f} obs/s  (each: {_list(news)})")
    print(f"  agency ingest (dedupe)  {median(dedupe):9.0f} obs/s  (each: {_list(dedupe)})")
    print(f"  one report at a time    {median(single):9.0f} obs/s  (each: {_list(single)})")
    print(f"  raw executemany         {median(raw):9.0f} obs/s  (each: {_list(raw)})")
    print(f"  one report at a time / raw: {median(single) / median(raw):.3f}")
    print(f"  {backend.upper()}_RATIO {ratio:.3f} LIMIT {RATIO_LIMIT:g}")
    return ratio


def _list(values: list[float]) -> str:
    return " ".join(f"{value:.0f}" for value in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--runs-per-report", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("SPYAGENCY_TEST_POSTGRES_URL"),
        help="server URL for the PostgreSQL form (default: $SPYAGENCY_TEST_POSTGRES_URL)",
    )
    options = parser.parse_args()

    batches = build_batches(options.runs, options.runs_per_report)
    ratios: list[float] = []
    with tempfile.TemporaryDirectory() as folder:

        def fresh_sqlite() -> Any:
            return sqlite_store(Path(folder))

        ratios.append(measure("sqlite", fresh_sqlite, batches, options.repeat))
    if options.postgres:
        ratios.append(
            measure("postgres", postgres_store(options.postgres), batches, options.repeat)
        )
    else:
        print("postgres: skipped (no --postgres URL and no SPYAGENCY_TEST_POSTGRES_URL)")
    # The last line is the worst backend: the target holds only if it holds for both.
    print(f"RATIO {min(ratios):.3f} LIMIT {RATIO_LIMIT:g}")


if __name__ == "__main__":
    main()
