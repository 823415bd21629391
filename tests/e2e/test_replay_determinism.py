"""A replay is deterministic: the same scenario twice gives the same conclusions at the same
moments, so a figure measured on a replay is a property of the agency, not of the machine.

The production engine loop runs in virtual time (ADR 12): its pollers run side by side, the
store's transactions in a worker thread, and time moves only when nothing is ready to run. The
order in which tasks meet a transaction's outcome must therefore not depend on how fast the
machine is; the per-request faults drawn from rates stay on, since they hit whichever request
comes n-th and would show any reordering of requests.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from spyagency.harness.replay import ReplayResult, replay

STEP = timedelta(minutes=15)
HOURS = 30.0  # past the last run's calibrations; the 48 h lock-ins are not needed here


def fingerprint(result: ReplayResult) -> dict[str, Any]:
    return {
        "signals": [(s.run, s.verdict.value, s.decided_at) for s in result.signals],
        "verdicts": dict(result.verdicts),
        "reasons": dict(result.reasons),
        "releases": {r["run"]: (r["released"], r["release_time"]) for r in result.truth["runs"]},
        "faults": result.truth["faults"],
        "work": (result.polls, result.ticks, result.news),
        "alerts": (result.alerts_opened, result.alerts_resolved),
        "stored": result.stored,
    }


@pytest.mark.timeout(600)
def test_the_same_replay_twice_concludes_the_same_at_the_same_moments(tmp_path: Path) -> None:
    first = replay("quiet_day", tmp_path / "first", step=STEP, hours=HOURS)
    second = replay("quiet_day", tmp_path / "second", step=STEP, hours=HOURS)
    assert first.signals, "the day must signal runs, or the comparison shows nothing"
    assert first.truth["faults"], "the day's per-request faults must have hit something"
    assert fingerprint(second) == fingerprint(first)
