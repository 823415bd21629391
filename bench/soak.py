"""Soak: a simulated month with every simulator fault, at realistic and at 10x fault rates.

Replays the bad day's faults (every HTTP fault per service, the CondDB locked and unreadable,
PromptReco paused, failed harvests, lost, late and duplicate uploads, IOVs in the wrong tag or
with the wrong hash) stretched over ``--days`` days, once at the scenario's rates and once at
ten times them, and checks: no crash, zero false ready signals, every provable run signalled
after its sources recover, and every observation, alert and alert audit event accounted for
(``spyagency.harness.soak``), through the production engine loop in virtual time. The same
checks run as tests: a few days in
tests/e2e/test_soak.py, the month there too when slow tests are asked for (--run-slow).

Prints one line per rate with its figures and problems; last line ``RATIO x`` with x = the
number of problems found (target 0).

    .venv/bin/python bench/soak.py [--days 30] [--rates 1,10]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from spyagency.harness.soak import soak


def _scratch() -> Path:
    shm = Path("/dev/shm")
    return Path(tempfile.mkdtemp(prefix="soak-", dir=shm if shm.is_dir() else None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--rates", default="1,10", help="fault rate factors, comma-separated")
    args = parser.parse_args()
    problems = 0
    for factor in (float(f) for f in args.rates.split(",")):
        outcome = soak(args.days, factor, _scratch())
        result = outcome.result
        ready = sum(1 for s in result.signals if s.verdict.value == "ready")
        print(
            f"{args.days:g} days at {factor:g}x fault rates: {len(result.truth['runs'])} runs, "
            f"{ready} ready signals, {len(result.truth['faults'])} faults injected "
            f"({len(outcome.fault_kinds)} kinds), {result.news} observations stored, "
            f"{result.alerts_opened} alerts opened / {result.alerts_resolved} resolved, "
            f"{result.polls} polls, wall {result.wall_seconds:.1f} s; "
            f"problems: {outcome.problems or 'none'}"
        )
        problems += len(outcome.problems)
    print(f"RATIO {problems}")


if __name__ == "__main__":
    main()
