"""The fast replay concludes what the literal one does, and what the production loop does.

The literal replay polls every source at every grid point and hands each report to the engine
as its own batch, then ticks. The fast one (the default) polls a source only when its answer
may differ (its view changed, the part of the scope its spy reads changed, or its last poll
failed), takes the reports of one grid point as one batch, and ticks only at deadlines, then
re-judging only the runs a deadline of which has passed. On the quiet day both must reach the
same verdicts and send the same signals at the same moments.

Per-request faults drawn from rates are switched off: they hit whichever request comes n-th,
so a replay that sends fewer requests meets them elsewhere (that is luck, not a difference in
what the agency concludes).

The production loop (``Agency`` with its pollers side by side, in virtual time) is the
reference for both, and the stepper reaches the same verdicts, signals and releases at the
same moments. The stepper polls the spies in turn at a grid point, so each spy's scope already
holds what the spy before it reported at that instant (the harvest area looks up the files
WMStats has just named, the upload log the markers the harvest area has just found).
Production pollers run side by side; a batch that changes what another spy would ask wakes
that spy at once (``Supervisor.scope_changed``), so the chain costs no poll interval there
either. Without that wake, production was up to a poll interval later per hop of the chain.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from spyagency.harness.agency_replay import replay_agency
from spyagency.harness.replay import Mode, ReplayResult, replay
from spyagency.simulator import load_scenario

STEP = timedelta(minutes=15)
HOURS = 30.0  # past the last run's calibrations; the 48 h lock-ins are not needed here


def without_rate_faults() -> dict[str, object]:
    plan = load_scenario("quiet_day")
    return {"faults": dataclasses.replace(plan.faults, http_rates={})}


def quiet_day(workdir: Path, mode: Mode, batch: bool) -> ReplayResult:
    return asyncio.run(
        replay(
            "quiet_day",
            workdir,
            step=STEP,
            hours=HOURS,
            mode=mode,
            batch=batch,
            plan_changes=without_rate_faults(),
        )
    )


def production_loop(workdir: Path) -> ReplayResult:
    return replay_agency(
        "quiet_day", workdir, step=STEP, hours=HOURS, plan_changes=without_rate_faults()
    )


def signals(result: ReplayResult) -> list[tuple[int, str, float]]:
    return [(s.run, s.verdict.value, s.decided_at.timestamp()) for s in result.signals]


def signalled(result: ReplayResult) -> list[tuple[int, str]]:
    return [(s.run, s.verdict.value) for s in result.signals]


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


@pytest.fixture(scope="module")
def stepper(tmp_path_factory: pytest.TempPathFactory) -> ReplayResult:
    return quiet_day(tmp_path_factory.mktemp("stepper"), "events", batch=True)


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> ReplayResult:
    return production_loop(tmp_path_factory.mktemp("production"))


@pytest.mark.timeout(300)
def test_the_stepper_concludes_what_the_production_loop_does(
    stepper: ReplayResult, production: ReplayResult
) -> None:
    assert any(s.verdict.value == "ready" for s in production.signals), "the day must signal"
    assert stepper.verdicts == production.verdicts
    assert signalled(stepper) == signalled(production)
    kinds = {run: kind for run, (kind, _) in releases(production).items()}
    assert {run: kind for run, (kind, _) in releases(stepper).items()} == kinds
    assert signals(stepper) == signals(production)
    assert releases(stepper) == releases(production)


@pytest.mark.timeout(300)
def test_the_production_loop_in_virtual_time_replays_the_same_way_twice(
    production: ReplayResult, tmp_path: Path
) -> None:
    again = production_loop(tmp_path)
    assert signals(again) == signals(production)
    assert again.verdicts == production.verdicts
    assert again.reasons == production.reasons
    assert releases(again) == releases(production)
    assert again.news == production.news
