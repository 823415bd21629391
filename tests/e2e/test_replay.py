"""The loop closed: the real agency against the simulated CMS, judged by ground truth.

One replay of the quiet day through the production engine loop in virtual time (the agency's
spies speak the real protocols to the simulator, each on its own poller; the simulated Tier-0
consumes the agency's HMAC-signed webhooks) is checked against what the simulator knows really
happened.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from spyagency.domain.states import Verdict
from spyagency.harness.replay import ReplayResult, replay

STEP = timedelta(minutes=15)


@pytest.fixture(scope="module")
def quiet_day(tmp_path_factory: pytest.TempPathFactory) -> ReplayResult:
    workdir: Path = tmp_path_factory.mktemp("quiet-day")
    return replay("quiet_day", workdir, step=STEP)


def oracle(run: dict[str, Any]) -> float | None:
    """When everything the run needs became provable (None: never): the last required
    calibration in the CondDB, or for a run with nothing to calibrate, the evidence of that."""
    provable: float | None = run["provable_at"]
    return provable


def ready_signals(result: ReplayResult) -> dict[int, float]:
    return {s.run: s.decided_at.timestamp() for s in result.signals if s.verdict is Verdict.READY}


@pytest.mark.timeout(300)
def test_no_run_is_signalled_ready_before_its_calibrations_are_provable(
    quiet_day: ReplayResult,
) -> None:
    signals = ready_signals(quiet_day)
    assert signals, "the quiet day must produce ready signals"
    for run in quiet_day.truth["runs"]:
        if run["run"] not in signals:
            continue
        proven = oracle(run)
        assert proven is not None, f"run {run['run']} signalled but never provable"
        assert signals[run["run"]] >= proven, f"run {run['run']} signalled before its proof"


@pytest.mark.timeout(300)
def test_no_run_released_early_without_its_calibrations(quiet_day: ReplayResult) -> None:
    early = [r for r in quiet_day.truth["runs"] if r["released"] == "early"]
    assert len(early) >= len(quiet_day.truth["runs"]) // 2, "most quiet-day runs go early"
    for run in early:
        assert run["missed"] == [], f"run {run['run']} released early without {run['missed']}"


@pytest.mark.timeout(300)
def test_every_provable_run_is_signalled_within_a_poll_interval(
    quiet_day: ReplayResult,
) -> None:
    """In run order: a run can go once it is provable and every lower run is settled. Its
    proof is seen at the first poll after it: a spy whose questions another's report changed
    (WMStats names a harvest, the harvest area finds its upload marker) is woken at once, so
    the chain of spies adds no poll interval of its own."""
    allowance = STEP.total_seconds()
    signals = ready_signals(quiet_day)
    runs = sorted(quiet_day.truth["runs"], key=lambda r: r["run"])
    lower_settled = 0.0
    for run in runs:
        proven = oracle(run)
        lock = run["lock_in_time"]
        verdict = quiet_day.verdicts.get(run["run"])
        # Runs with nothing to calibrate count too: their oracle is the evidence of nothing.
        if proven is not None and verdict is not Verdict.MISSED and (lock is None or proven < lock):
            due = max(proven, lower_settled)
            if lock is None or due + allowance < lock:
                assert run["run"] in signals, f"run {run['run']} provable but never signalled"
                late = signals[run["run"]] - due
                assert late <= allowance + 1, f"run {run['run']} signalled {late} s late"
        settled = signals.get(run["run"]) or lock
        if settled is None:
            break
        lower_settled = max(lower_settled, settled)


@pytest.mark.timeout(300)
def test_every_missed_run_is_explained(quiet_day: ReplayResult) -> None:
    for run, verdict in quiet_day.verdicts.items():
        if verdict is Verdict.MISSED:
            reasons = " ".join(quiet_day.reasons[run])
            assert "locked in at" in reasons and "without" in reasons, reasons
    released = [r for r, v in quiet_day.verdicts.items() if v is Verdict.RELEASED]
    truth = {r["run"]: r for r in quiet_day.truth["runs"]}
    for run in released:
        assert truth[run]["missed"] == [], f"run {run} called released but the truth says missed"
