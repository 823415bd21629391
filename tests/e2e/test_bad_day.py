"""The bad day: every fault the simulator knows, and still no false ready signal.

Sources answer 500s, hang, reset, send truncated or single-quoted JSON; the CondDB is locked and
then unreadable; uploads fail or are rejected as too late; an upload marker's payload never
reaches the CondDB; an IOV goes to the wrong tag. The agency may be slow on such a day; it may
never be wrong in the dangerous direction.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from spyagency.domain.states import Verdict
from spyagency.harness.replay import ReplayResult, replay
from tests.e2e.test_replay import oracle, ready_signals


@pytest.fixture(scope="module")
def bad_day(tmp_path_factory: pytest.TempPathFactory) -> ReplayResult:
    workdir: Path = tmp_path_factory.mktemp("bad-day")
    return replay("bad_day", workdir, step=timedelta(minutes=15))


@pytest.mark.timeout(400)
def test_the_bad_day_really_has_faults(bad_day: ReplayResult) -> None:
    kinds = {f["kind"].removeprefix("window:") for f in bad_day.truth["faults"]}
    expected = {"condb_locked", "condb_unreadable", "uploaded_never_in_db", "iov_wrong_tag"}
    assert expected <= kinds, kinds


@pytest.mark.timeout(400)
def test_zero_runs_signalled_ready_without_proof(bad_day: ReplayResult) -> None:
    for run in bad_day.truth["runs"]:
        signalled = ready_signals(bad_day).get(run["run"])
        if signalled is None:
            continue
        proven = oracle(run)
        assert proven is not None and signalled >= proven, run["run"]


@pytest.mark.timeout(400)
def test_every_run_the_truth_calls_missed_is_missed_and_explained(bad_day: ReplayResult) -> None:
    for run in bad_day.truth["runs"]:
        verdict = bad_day.verdicts.get(run["run"])
        if run["missed"]:
            assert verdict is Verdict.MISSED, (run["run"], verdict, run["missed"])
            reasons = " ".join(bad_day.reasons[run["run"]])
            for item in run["missed"]:
                assert item["workflow"] in reasons, (run["run"], item, reasons)
        if run["released"] == "early":
            assert run["missed"] == [], run["run"]
