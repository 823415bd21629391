"""The soak's liveness check decides on the simulator's truth, never on the agency's word."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from spyagency.domain.policy import Policy
from spyagency.domain.states import Verdict
from spyagency.harness.replay import ReplayResult, SignalRecord
from spyagency.harness.soak import check_liveness

DAY = 86400.0


def _run(number: int, dqm_status: int | None = 100, workflow: str = "SiPixelAli") -> dict[str, Any]:
    """A run provable at day 1 and locked in at day 10: ample time to be signalled."""
    return {
        "run": number,
        "provable_at": DAY,
        "lock_in_time": 10 * DAY,
        "missed": [],
        "required": [{"workflow": workflow, "dqm_status": dqm_status}],
        "not_required": [],
    }


def _result(*runs: dict[str, Any], signalled: tuple[int, ...] = ()) -> ReplayResult:
    result = ReplayResult(truth={"runs": list(runs)})
    at = datetime.fromtimestamp(2 * DAY, UTC)
    result.signals = [SignalRecord(run, Verdict.READY, at) for run in signalled]
    return result


def test_a_provable_run_never_signalled_is_a_problem() -> None:
    assert check_liveness(_result(_run(1), _run(2), signalled=(1,))) == [
        f"run 2: provable at {DAY}, never signalled"
    ]


def test_a_run_whose_dqm_shows_error_for_a_gated_workflow_is_withheld_by_policy() -> None:
    assert check_liveness(_result(_run(1, dqm_status=300))) == []


def test_the_quality_gate_is_the_policys() -> None:
    ungated = Policy(quality_gate=frozenset({"SiStripGains"}))
    assert check_liveness(_result(_run(1, dqm_status=300)), ungated) != []


def test_the_agencys_own_reason_excuses_nothing() -> None:
    # The DQM shows OK (or nothing at all): an agency that says "quality_failed" anyway is
    # wrong, and the check must not take its word for it.
    for status in (100, 200, None):
        result = _result(_run(1, dqm_status=status))
        result.reasons[1] = ("SiPixelAli quality_failed",)
        assert check_liveness(result) != []
