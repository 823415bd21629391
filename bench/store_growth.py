"""Store growth per run, and per simulated year, before and after retention compaction.

Replays a scenario in process (``quiet_day`` by default: about a dozen runs, a day of data
taking plus the 48 h until their release), which leaves a SQLite store in a temporary
directory. It then measures two copies of that store, both ``VACUUM``-ed so the file holds no
free pages:

- as the replay left it;
- compacted as retention would compact it once every run is older than the configured age
  (``compact`` with a cut-off after the last observation: superseded observations of every
  released or missed run go, and change-feed events go except the newest).

Prints the bytes of each table (with its indexes) per run, extrapolates to a year of
``--runs-per-year`` runs, and ends with the ratio compacted size / uncompacted size. The limit
is 1.0 (compaction must never grow the store); the figure itself is the finding.

    .venv/bin/python bench/store_growth.py [--scenario quiet_day] [--runs-per-year 1500]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

RATIO_LIMIT = 1.0
MB = 1024 * 1024


def table_bytes(path: Path) -> dict[str, int]:
    """Bytes per table, each index counted with its table (SQLite's ``dbstat``)."""
    with sqlite3.connect(path) as connection:
        owners = dict(
            connection.execute("SELECT name, tbl_name FROM sqlite_schema WHERE type = 'index'")
        )
        sizes: dict[str, int] = defaultdict(int)
        for name, size in connection.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            sizes[owners.get(name, name)] += int(size)
    return dict(sizes)


def row_count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def vacuum(path: Path) -> int:
    """The file's size once it holds no free pages (VACUUM needs autocommit mode)."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("VACUUM")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return path.stat().st_size


def raw_text_bytes(path: Path) -> int:
    """Bytes of raw upstream evidence kept with the observations (UTF-8)."""
    with sqlite3.connect(path) as connection:
        found = connection.execute("SELECT SUM(LENGTH(CAST(raw AS BLOB))) FROM observation")
        return int(found.fetchone()[0] or 0)


def replay_store(scenario: str, directory: Path) -> Path:
    from spyagency.harness.replay import replay

    result = replay(scenario, directory)
    print(f"replayed {scenario}: {result.news} observations stored, {result.polls} polls")
    return directory / "agency.db"


def compact_copy(path: Path) -> None:
    from spyagency.store import Store, build_engine
    from spyagency.store.retention import compact

    engine = build_engine(f"sqlite:///{path}")
    try:
        report = compact(Store(engine), older_than=datetime(9999, 1, 1, tzinfo=UTC))
    finally:
        engine.dispose()
    print(
        f"compaction: {len(report.runs)} runs, {report.observations_deleted} observations and "
        f"{report.events_deleted} events deleted in {report.transactions} transactions"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="quiet_day")
    parser.add_argument("--runs-per-year", type=int, default=1500)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="store-growth-") as work:
        root = Path(work)
        original = replay_store(options.scenario, root / "replay")
        before = root / "before.db"
        after = root / "after.db"
        for copy in (before, after):
            # The online backup API copies a consistent image, WAL included.
            with sqlite3.connect(original) as source, sqlite3.connect(copy) as target:
                source.backup(target)
        shutil.rmtree(root / "replay")
        compact_copy(after)
        sizes = {name: vacuum(path) for name, path in (("before", before), ("after", after))}
        tables = {"before": table_bytes(before), "after": table_bytes(after)}
        runs = row_count(before, "run_state")
        raw_after = raw_text_bytes(after)
        counts = {
            name: (row_count(path, "observation"), row_count(path, "event"))
            for name, path in (("before", before), ("after", after))
        }

    print(f"runs: {runs}")
    for name in ("before", "after"):
        observations, events = counts[name]
        print(f"{name:6}: {observations} observations, {events} events, {sizes[name]} bytes")
    print(f"{'table':22} {'bytes/run before':>17} {'bytes/run after':>16}")
    names = sorted(
        set(tables["before"]) | set(tables["after"]), key=lambda n: -tables["before"].get(n, 0)
    )
    for name in names:
        b, a = tables["before"].get(name, 0), tables["after"].get(name, 0)
        if b or a:
            print(f"{name:22} {b / runs:17.0f} {a / runs:16.0f}")
    print(f"raw evidence kept per run after compaction: {raw_after / runs:.0f} bytes")
    per_run = {name: size / runs for name, size in sizes.items()}
    year = options.runs_per_year
    print(
        f"per run: {per_run['before'] / 1024:.1f} KiB before, {per_run['after'] / 1024:.1f} KiB "
        f"after; per year of {year} runs: {per_run['before'] * year / MB:.0f} MiB before, "
        f"{per_run['after'] * year / MB:.0f} MiB after"
    )
    print(f"RATIO {sizes['after'] / sizes['before']:.3f} LIMIT {RATIO_LIMIT:g}")


if __name__ == "__main__":
    main()
