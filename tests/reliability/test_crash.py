"""Crash reliability: the engine killed with SIGKILL at random moments and restarted ends
exactly where an engine never interrupted ends (issue "Evidence", crash).

Each test runs the same scenario twice, each run with its own simulator process and store: a
reference run, never interrupted, and a run whose engine (the crash driver, its own process) is
killed as planned and restarted each time. The short forms run in the normal suite; the whole
simulated day with 50 kills is marked slow (``bench/crash.py`` runs it too).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from spyagency.harness.crash_lives import LifeLog, kill_plan
from spyagency.harness.crash_trial import run_trial
from spyagency.harness.crash_verdicts import StoreFingerprint, TrialRun, compare, delivery_problems

SCENARIO = "quiet_day"
SHORT_HOURS = 8.0  # the first runs of the day get their calibrations and early releases
SHORT_STEP = timedelta(minutes=30)


def both_runs(
    workdir: Path, database_url: str | None = None, **crash: int
) -> tuple[TrialRun, TrialRun]:
    """The reference and the crashed run, side by side (each mostly waits on its children)."""
    common = {"hours": SHORT_HOURS, "step": SHORT_STEP}
    with ThreadPoolExecutor(max_workers=2) as pool:
        reference = pool.submit(run_trial, SCENARIO, workdir / "reference", **common)
        crashed = pool.submit(
            run_trial, SCENARIO, workdir / "crashed", database_url=database_url, **common, **crash
        )
        return reference.result(), crashed.result()


def assert_same_end(reference: TrialRun, crashed: TrialRun) -> None:
    ready = {d for d in reference.accepted() if d[1] == "ready"}
    assert len(ready) >= 3, "the reference must announce several runs ready"
    assert delivery_problems(reference) == []
    assert delivery_problems(crashed) == []
    assert compare(reference, crashed) == []


@pytest.mark.timeout(240)
def test_killed_engine_ends_where_an_uninterrupted_one_does(tmp_path: Path) -> None:
    reference, crashed = both_runs(tmp_path, kills=3, seed=8, kill_after_deliveries=1)
    # The first life died between the Tier-0 taking a signal and the outbox recording it.
    assert crashed.lives.self_kills == 1
    assert crashed.lives.kills == 3
    assert crashed.lives.lives == 1 + 3 + 1
    assert crashed.repeats() >= 1, "the unrecorded delivery is repeated, under its own key"
    assert_same_end(reference, crashed)


@pytest.mark.postgres
@pytest.mark.timeout(240)
def test_killed_engine_on_postgresql_ends_as_one_on_sqlite(
    tmp_path: Path, postgres_database: str
) -> None:
    reference, crashed = both_runs(tmp_path, postgres_database, kills=3, seed=21)
    assert crashed.lives.kills == 3
    assert_same_end(reference, crashed)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_fifty_kills_in_a_simulated_day(tmp_path: Path) -> None:
    hours = 24 + 50  # the day, then until every run is locked in
    step = timedelta(minutes=10)
    with ThreadPoolExecutor(max_workers=2) as pool:
        reference = pool.submit(run_trial, SCENARIO, tmp_path / "reference", hours=hours, step=step)
        crashed = pool.submit(
            run_trial, SCENARIO, tmp_path / "crashed", hours=hours, step=step, kills=50, seed=50
        )
        ref, crash = reference.result(), crashed.result()
    assert crash.lives.kills == 50
    assert_same_end(ref, crash)


# --- the judging itself ---------------------------------------------------------------------


def test_kill_plan_is_reproducible_and_in_step_order() -> None:
    plan = kill_plan(50, 445, seed=7)
    assert plan == kill_plan(50, 445, seed=7)
    assert plan != kill_plan(50, 445, seed=8)
    assert [k.step for k in plan] == sorted(k.step for k in plan)
    assert all(0 <= k.step < 445 and 0 <= k.fraction < 1 for k in plan)
    assert 0 < sum(k.at_startup for k in plan) < 50


def _run_with(deliveries: list[tuple[int, str, str, int]]) -> TrialRun:
    empty = StoreFingerprint((), (), (), (), (), (), ())
    ledger = []
    accepted: set[str] = set()
    for run, verdict, key, status in deliveries:
        ledger.append(
            {
                "run": run,
                "verdict": verdict,
                "idempotency_key": key,
                "status": status,
                "repeat": key in accepted,
                "at": 0.0,
            }
        )
        if status == 200:
            accepted.add(key)
    return TrialRun(empty, ledger, {"runs": []}, LifeLog(), 0.0)


def test_one_decision_under_two_keys_is_a_breach() -> None:
    twice = _run_with([(1, "ready", "run-1-ready-1", 200), (1, "ready", "run-1-ready-2", 200)])
    assert delivery_problems(twice) == ["run 1 announced ready twice: run-1-ready-1, run-1-ready-2"]


def test_repeats_under_one_key_and_retractions_are_no_breach() -> None:
    fine = _run_with(
        [
            (1, "ready", "run-1-ready-1", 200),
            (1, "ready", "run-1-ready-1", 200),  # redelivered after a crash: same key
            (1, "blocked", "run-1-blocked-2", 200),
            (1, "ready", "run-1-ready-3", 200),  # a new decision, a new key
        ]
    )
    assert delivery_problems(fine) == []
    assert fine.repeats() == 1


def test_a_refused_delivery_is_a_breach() -> None:
    refused = _run_with([(2, "ready", "run-2-ready-1", 401)])
    assert len(delivery_problems(refused)) == 1


def test_a_lost_signal_is_a_difference() -> None:
    reference = _run_with([(1, "ready", "run-1-ready-1", 200), (2, "ready", "run-2-ready-1", 200)])
    crashed = _run_with([(1, "ready", "run-1-ready-1", 200)])
    problems = compare(reference, crashed)
    assert len(problems) == 1 and "not with them" in problems[0]
