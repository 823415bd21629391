"""An agency that was away reaches the verdicts of one that never stopped.

The quiet day is replayed twice: once watched throughout, once with the agency away from
hour 6 to hour 60 (every run of the first hours harvests, uploads and is locked in and
released by the Tier-0's timer while nobody looks) and then restarted from its store. Runs
the Tier-0 released while the agency was away are judged from their history (express
configuration, harvest files, CondDB insertion times against the lock-in), never from the
agency's own ignorance: none is called missed unless the watching agency also calls it
missed, and none that the truth calls complete is missed.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from spyagency.domain.states import Verdict
from spyagency.domain.verdict import NO_EVIDENCE_EITHER_WAY
from spyagency.harness.replay import ReplayResult, replay
from spyagency.simulator import load_scenario

STEP = timedelta(minutes=15)
AWAY = (6.0, 60.0)


def quiet_day(workdir: Path, outage: tuple[float, float] | None) -> ReplayResult:
    plan = load_scenario("quiet_day")
    faults = dataclasses.replace(plan.faults, http_rates={})
    return replay("quiet_day", workdir, step=STEP, plan_changes={"faults": faults}, outage=outage)


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> ReplayResult:
    return quiet_day(tmp_path_factory.mktemp("watched"), None)


@pytest.fixture(scope="module")
def away(tmp_path_factory: pytest.TempPathFactory) -> ReplayResult:
    return quiet_day(tmp_path_factory.mktemp("away"), AWAY)


@pytest.mark.timeout(600)
def test_runs_released_while_the_agency_was_away_are_judged_from_their_history(
    watched: ReplayResult, away: ReplayResult
) -> None:
    truth = {r["run"]: r for r in away.truth["runs"]}
    released_unseen = [
        run
        for run, r in truth.items()
        if r["release_time"] is not None and r["release_time"] < AWAY[1] * 3600 + _start(away)
    ]
    assert released_unseen, "the outage must cover releases, or it tests nothing"
    for run in released_unseen:
        verdict = away.verdicts.get(run)
        reasons = " ".join(away.reasons.get(run, ()))
        if truth[run]["missed"] == []:
            assert verdict is not Verdict.MISSED, (run, reasons)
        if verdict is Verdict.MISSED:
            assert watched.verdicts.get(run) is Verdict.MISSED, (run, reasons)
        if verdict is Verdict.UNKNOWN:
            assert NO_EVIDENCE_EITHER_WAY in reasons, (run, reasons)
    recovered = [run for run in released_unseen if away.verdicts.get(run) is Verdict.RELEASED]
    assert recovered, "history must prove some runs released, not only leave them unknown"


@pytest.mark.timeout(600)
def test_after_the_outage_the_agency_concludes_what_the_watching_one_does(
    watched: ReplayResult, away: ReplayResult
) -> None:
    later = [
        run
        for run, r in {r["run"]: r for r in away.truth["runs"]}.items()
        if r["start"] is not None and r["start"] > AWAY[1] * 3600 + _start(away)
    ]
    for run in later:
        assert away.verdicts.get(run) == watched.verdicts.get(run), run
    for run, verdict in away.verdicts.items():
        if verdict is Verdict.RELEASED:
            truth = next(r for r in away.truth["runs"] if r["run"] == run)
            assert truth["missed"] == [], f"run {run} called released but the truth says missed"


def _start(result: ReplayResult) -> float:
    return float(load_scenario("quiet_day").start)
