"""The soak: the bad day's every fault, stretched over many days, at realistic or 10x rates.

``soak(days, rate_factor, workdir)`` replays scenario ``bad_day`` for ``days`` days (every
scripted fault window of the bad day, every per-request and per-output fault at its rate
times ``rate_factor``) and checks, against the simulator's ground truth and the store:

1. no crash: the replay finishes;
2. zero false ready signals: every ready signal came at or after the moment the run's needs
   became provable, and never for a run that was never provable;
3. every provable run is signalled after its sources recover: a run provable (and every lower
   run settled) long enough before its lock-in to outlast the longest fault window, unless
   the quality gate withholds it (the simulator's DQM shows ERROR for a gated workflow:
   policy, not a fault);
4. nothing lost: the observations stored equal the news the engine's batches counted; the
   alerts opened and resolved equal what the batches reported; each has its audit event.

``problems`` lists every violation (empty: the soak passed). The replay is the production
engine loop in virtual time (``harness/replay.py``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from spyagency.domain.policy import Policy
from spyagency.domain.states import DqmStatus, Verdict
from spyagency.harness.replay import ReplayResult, replay
from spyagency.simulator import Scenario, load_scenario

BASE = "bad_day"
DAY_S = 86400.0
STEP = timedelta(minutes=15)


@dataclass
class SoakOutcome:
    days: float
    rate_factor: float
    result: ReplayResult
    fault_kinds: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def _scaled(rates: dict[str, float], factor: float) -> dict[str, float]:
    return {kind: min(0.5, rate * factor) for kind, rate in rates.items()}


def soak_changes(days: float, rate_factor: float) -> dict[str, Any]:
    """The bad day stretched to ``days`` days, its fault rates multiplied by ``rate_factor``."""
    plan: Scenario = load_scenario(BASE)
    faults = dataclasses.replace(
        plan.faults,
        http_rates=_scaled(plan.faults.http_rates, rate_factor),
        item_rates=_scaled(plan.faults.item_rates, rate_factor),
    )
    return {"duration_s": days * DAY_S, "faults": faults}


def _longest_window_s() -> float:
    return max((w.end - w.start for w in load_scenario(BASE).faults.windows), default=0.0)


def check_safety(result: ReplayResult) -> list[str]:
    problems = []
    truth = {r["run"]: r for r in result.truth["runs"]}
    for signal in result.signals:
        if signal.verdict is not Verdict.READY:
            continue
        provable = truth[signal.run]["provable_at"]
        if provable is None or signal.decided_at.timestamp() < provable:
            problems.append(f"run {signal.run}: ready at {signal.decided_at} before its proof")
    return problems


def _quality_gated(run: dict[str, Any], policy: Policy) -> bool:
    """True when the DQM GUI really shows ERROR for a workflow of ``run`` that the quality
    gate covers: the run is withheld by policy, not by a fault to outlast. Decided on the
    simulator's truth, not on the agency's own reasons, so an agency that wrongly called a
    workflow failed is still caught."""
    workflows = [*run["required"], *run["not_required"]]
    return any(
        w["dqm_status"] is not None
        and DqmStatus.from_code(w["dqm_status"]) is DqmStatus.ERROR
        and policy.gated(w["workflow"])
        for w in workflows
    )


def check_liveness(result: ReplayResult, policy: Policy | None = None) -> list[str]:
    """In run order: once a run is provable and every lower run settled, a signal must come
    before its lock-in, given time for the sources to recover from the longest fault window.
    A run the quality gate withholds (``policy``, default the agency's default) is left out."""
    policy = policy or Policy()
    problems = []
    ready = {s.run: s.decided_at.timestamp() for s in result.signals if s.verdict is Verdict.READY}
    grace = _longest_window_s() + 2 * result.step.total_seconds()
    settled_below = 0.0
    for run in sorted(result.truth["runs"], key=lambda r: r["run"]):
        provable, lock = run["provable_at"], run["lock_in_time"]
        withheld = _quality_gated(run, policy)
        if provable is not None and lock is not None and not run["missed"] and not withheld:
            due = max(provable, settled_below)
            if due + grace < lock and run["run"] not in ready:
                problems.append(f"run {run['run']}: provable at {provable}, never signalled")
        settled = ready.get(run["run"]) or lock
        if settled is None:
            break
        settled_below = max(settled_below, settled)
    return problems


def check_accounting(result: ReplayResult) -> list[str]:
    stored = result.stored
    pairs = {
        "observations stored vs news ingested": (stored["observations"], result.news),
        "alerts stored vs opened": (stored["alerts"], result.alerts_opened),
        "alerts resolved in store vs reported": (stored["alerts_resolved"], result.alerts_resolved),
        "alert audit events (firing) vs opened": (
            stored["alert_events_firing"],
            result.alerts_opened,
        ),
        "alert audit events (resolved) vs resolved": (
            stored["alert_events_resolved"],
            result.alerts_resolved,
        ),
    }
    return [f"{what}: {a} != {b}" for what, (a, b) in pairs.items() if a != b]


def soak(days: float, rate_factor: float, workdir: Path) -> SoakOutcome:
    """Replay ``days`` of the bad day's faults at ``rate_factor`` times their rates, and check
    the outcome."""
    result = replay(BASE, workdir, step=STEP, plan_changes=soak_changes(days, rate_factor))
    return _judged(days, rate_factor, result)


def _judged(days: float, rate_factor: float, result: ReplayResult) -> SoakOutcome:
    outcome = SoakOutcome(days, rate_factor, result)
    outcome.fault_kinds = {f["kind"].removeprefix("window:") for f in result.truth["faults"]}
    outcome.problems = check_safety(result) + check_liveness(result) + check_accounting(result)
    return outcome
