"""The fast replay concludes what the literal one does.

The literal replay polls every source at every grid point and hands each report to the engine
as its own batch, then ticks. The fast one (the default) polls a source only when its answer
may differ (its view changed, the part of the scope its spy reads changed, or its last poll
failed), takes the reports of one grid point as one batch, and ticks only at deadlines, then
re-judging only the runs a deadline of which has passed. On the quiet day both must reach the
same verdicts and send the same signals at the same moments.

Per-request faults drawn from rates are switched off: they hit whichever request comes n-th,
so a replay that sends fewer requests meets them elsewhere (that is luck, not a difference in
what the agency concludes).
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from spyagency.harness.replay import Mode, ReplayResult, replay
from spyagency.simulator import load_scenario

STEP = timedelta(minutes=15)
HOURS = 30.0  # past the last run's calibrations; the 48 h lock-ins are not needed here


def quiet_day(workdir: Path, mode: Mode, batch: bool) -> ReplayResult:
    plan = load_scenario("quiet_day")
    faults = dataclasses.replace(plan.faults, http_rates={})
    return asyncio.run(
        replay(
            "quiet_day",
            workdir,
            step=STEP,
            hours=HOURS,
            mode=mode,
            batch=batch,
            plan_changes={"faults": faults},
        )
    )


def signals(result: ReplayResult) -> list[tuple[int, str, float]]:
    return [(s.run, s.verdict.value, s.decided_at.timestamp()) for s in result.signals]


def releases(result: ReplayResult) -> dict[int, tuple[str | None, float | None]]:
    return {r["run"]: (r["released"], r["release_time"]) for r in result.truth["runs"]}


@pytest.fixture(scope="module")
def literal(tmp_path_factory: pytest.TempPathFactory) -> ReplayResult:
    return quiet_day(tmp_path_factory.mktemp("literal"), "fixed", batch=False)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("batch", [True, False], ids=["one-batch-per-point", "batch-per-report"])
def test_event_driven_replay_concludes_what_the_literal_loop_does(
    literal: ReplayResult, tmp_path: Path, batch: bool
) -> None:
    fast = quiet_day(tmp_path, "events", batch=batch)
    assert any(s.verdict.value == "ready" for s in fast.signals), "the day must signal"
    assert fast.verdicts == literal.verdicts
    assert signals(fast) == signals(literal)
    assert releases(fast) == releases(literal)
    assert fast.polls < literal.polls, (fast.polls, literal.polls)
