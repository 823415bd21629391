"""Crash reliability over a simulated day: the engine killed with SIGKILL at seeded random
moments and restarted each time, against a run of the same day never interrupted.

Both runs play the scenario with a simulator process on a manual clock and the engine as the
crash driver's own process (``spyagency.harness.crash_trial``), side by side, each with its own
fresh store. The crashed run's engine is killed ``--kills`` times (about one kill in five while
it starts: migrations, store load), plus once right after a delivery the store did not record
yet. Afterwards the two must be identical: run and workflow states with their times, decisions,
outbox, events, alerts, stored observations, the set of signals the Tier-0 accepted; the Tier-0
may release a run later by at most one dispatcher lease. Within each run no decision may reach
the Tier-0 under two keys.

Prints the kills, repeated deliveries (same key, expected after a kill between sending and
recording), releases delayed by a lease, the wall time of both runs and their ratio (what the
restarts cost), then the differences against their limit, zero, on the last line; exits 1 if
there is any.

    .venv/bin/python bench/crash.py [--kills 50] [--scenario quiet_day] [--hours 74]
        [--step-minutes 10] [--seed 50] [--database-url URL]

``--database-url`` puts the crashed run's store there (an empty PostgreSQL database, say); the
reference always runs on SQLite, so the comparison also holds across the two backends.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from spyagency.harness.crash_trial import run_trial
from spyagency.harness.crash_verdicts import compare, delivery_problems, release_delays


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--scenario", default="quiet_day")
    parser.add_argument("--hours", type=float, default=24 + 50, help="the day and its lock-ins")
    parser.add_argument("--step-minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=50)
    parser.add_argument("--database-url", default=None, help="store of the crashed run")
    parser.add_argument("--dir", type=Path, default=None, help="keep the runs' files here")
    options = parser.parse_args()
    workdir = options.dir or Path(tempfile.mkdtemp(prefix="crash-bench-"))
    step = timedelta(minutes=options.step_minutes)
    common = {"hours": options.hours, "step": step}
    print(
        f"{options.scenario}, {options.hours:g} h in {options.step_minutes:g} min steps; {workdir}"
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        reference_job = pool.submit(run_trial, options.scenario, workdir / "reference", **common)
        crashed_job = pool.submit(
            run_trial,
            options.scenario,
            workdir / "crashed",
            kills=options.kills,
            seed=options.seed,
            database_url=options.database_url,
            kill_after_deliveries=1,
            **common,
        )
        reference, crashed = reference_job.result(), crashed_job.result()
    lives = crashed.lives
    print(
        f"KILLS {lives.kills + lives.self_kills} ({lives.kills_at_startup} while starting, "
        f"{lives.kills - lives.kills_at_startup} during steps, {lives.self_kills} after a "
        f"delivery not yet recorded); {lives.lives} lives"
    )
    print(
        f"SIGNALS_ACCEPTED {len(reference.accepted())} reference, {len(crashed.accepted())} crashed"
    )
    print(f"REPEATED_DELIVERIES {crashed.repeats()} (same key)")
    print(f"RELEASES_DELAYED_BY_A_LEASE {release_delays(reference, crashed)}")
    breaches = delivery_problems(reference) + delivery_problems(crashed)
    for problem in breaches:
        print(f"  breach: {problem}")
    print(f"DELIVERY_BREACHES {len(breaches)} LIMIT 0")
    print(
        f"WALL_S reference {reference.wall_seconds:.1f}, crashed {crashed.wall_seconds:.1f}; "
        f"RATIO {crashed.wall_seconds / reference.wall_seconds:.2f}"
    )
    differences = compare(reference, crashed)
    for difference in differences:
        print(f"  difference: {difference}")
    print(f"DIFFERENCES {len(differences)} LIMIT 0")
    return 1 if differences or breaches else 0


if __name__ == "__main__":
    sys.exit(main())
