"""No run is ever ready, at any poll, unless the simulator's truth says its calibrations are in,
whatever is wrong with what the agency reads about single items.

Hypothesis draws small worlds: the quiet day with another seed, a few hours of runs, and many
read faults (``faultkinds.ITEM_READ_FAULTS``): a harvest file that reads as garbage for hours,
a run whose DQM GUI and WMStats jobdetail answers come cut in half, a DQM folder not there, an
upload log unknown or IOVs that reach the CondDB hours after the log said done; plus the item
faults that change what happens (duplicates, lost uploads, IOVs in the wrong tag...). The real
agency watches each world in a replay; every ready signal it ever gave must come at or after
the truth's ``provable_at`` of its run, and no run the truth cannot prove may have one. The
agency signals runs in order, so a run held back by a lower one is ready without a signal:
its verdict history in the store (every change, with its moment) is checked the same way.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spyagency.domain.states import Verdict
from spyagency.harness.replay import ReplayResult, replay
from spyagency.harness.soak import check_safety
from spyagency.simulator import load_scenario
from spyagency.simulator.faultkinds import ITEM_READ_FAULTS, ITEM_WORLD_FAULTS
from spyagency.store.database import build_engine
from spyagency.store.events import EventKind
from spyagency.store.uow import Store

BASE = "quiet_day"
STEP = timedelta(minutes=15)
HOUR = 3600.0
# Watched past the last run's harvests and uploads (hours after its end) and the longest
# read-fault window (6 h); the lock-ins, two days on, are not needed to judge safety.
TAIL_HOURS = 10.0


@dataclasses.dataclass(frozen=True)
class DrawnWorld:
    seed: int
    hours: int  # how long runs start
    read_rates: dict[str, float]
    world_rate: float  # each of the item faults that change what happens

    def plan_changes(self) -> dict[str, Any]:
        base = load_scenario(BASE)
        rates = {**dict.fromkeys(ITEM_WORLD_FAULTS, self.world_rate), **self.read_rates}
        faults = dataclasses.replace(base.faults, item_rates=rates, ensure_items=())
        return {"seed": self.seed, "duration_s": self.hours * HOUR, "faults": faults}


rates = st.floats(min_value=0.2, max_value=0.6)
drawn_worlds = st.builds(
    DrawnWorld,
    seed=st.integers(min_value=1, max_value=2**31 - 1),
    hours=st.integers(min_value=8, max_value=14),
    read_rates=st.fixed_dictionaries({kind: rates for kind in ITEM_READ_FAULTS}),
    # Low: a run with any of these faults is never provable, and the agency signals runs in
    # order, so high rates would leave no ready signal to check after the first such run.
    world_rate=st.sampled_from([0.0, 0.003, 0.01]),
)


def run_world(world: DrawnWorld, workdir: Path) -> ReplayResult:
    return replay(
        BASE,
        workdir,
        step=STEP,
        plan_changes=world.plan_changes(),
        hours=world.hours + TAIL_HOURS,
    )


def ready_verdicts(workdir: Path) -> list[tuple[int, float]]:
    """(run, when) of every change of a run's verdict to ready, from the replayed agency's
    store (``replay`` keeps it as ``agency.db`` in its workdir)."""
    store = Store(build_engine(f"sqlite:///{workdir / 'agency.db'}"))
    try:
        with store.read() as tx:
            events = tx.events.since(0, limit=10**7)
    finally:
        store.dispose()
    return [
        (e.run, e.at.timestamp())
        for e in events
        if e.kind == EventKind.VERDICT and e.new == Verdict.READY.value and e.run is not None
    ]


def early_verdicts(result: ReplayResult, verdicts: list[tuple[int, float]]) -> list[str]:
    """Each change to ready that the truth had not proven yet (or never proves)."""
    provable = {r["run"]: r["provable_at"] for r in result.truth["runs"]}
    return [
        f"run {run}: verdict ready at {at} before its proof ({provable.get(run)})"
        for run, at in verdicts
        if provable.get(run) is None or at < provable[run]
    ]


def counterexample(
    world: DrawnWorld, result: ReplayResult, verdicts: list[tuple[int, float]], runs: set[int]
) -> str:
    """Everything needed to replay and understand a false ready signal or verdict."""
    lines = [f"world: {world}"]
    for run in sorted(runs):
        truth = next((r for r in result.truth["runs"] if r["run"] == run), None)
        if truth is None:
            lines.append(f"run {run}: not in the truth (never started)")
            continue
        signals = [
            f"{s.verdict.value} at {s.decided_at.isoformat()}"
            for s in result.signals
            if s.run == run
        ]
        faults = [
            f"{f['kind']} at {f['at']}: {f['detail']}"
            for f in result.truth["faults"]
            if f["run"] == run
        ]
        lines += [
            f"run {run}: truth provable_at {truth['provable_at']}",
            f"  signals: {signals}",
            f"  ready verdicts at: {[at for r, at in verdicts if r == run]}",
            f"  required: {[(r['workflow'], r['provable_at']) for r in truth['required']]}",
            f"  faults: {faults}",
            f"  reasons: {result.reasons.get(run)}",
        ]
    return "\n".join(lines)


def runs_named(problems: list[str]) -> set[int]:
    return {int(p.split(":")[0].removeprefix("run ")) for p in problems}


@pytest.mark.timeout(300)
def test_no_run_is_ready_before_the_truth_proves_it_whatever_is_read_wrong(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    injected: set[str] = set()

    @settings(
        max_examples=4,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(world=drawn_worlds)
    def check(world: DrawnWorld) -> None:
        workdir = tmp_path_factory.mktemp(f"item-faults-{world.seed}")
        result = run_world(world, workdir)
        verdicts = ready_verdicts(workdir)
        kinds = {kind for kind, count in result.truth["fault_counts"].items() if count}
        read = kinds & set(ITEM_READ_FAULTS)
        assert read, f"no read fault happened in {world}: the example tests nothing"
        injected.update(read)
        assert verdicts, f"no run was ever ready in {world}: the example tests nothing"
        problems = check_safety(result) + early_verdicts(result, verdicts)
        details = counterexample(world, result, verdicts, runs_named(problems))
        assert problems == [], f"{problems}\n{details}"
        unprovable = {r["run"] for r in result.truth["runs"] if r["provable_at"] is None}
        ready = {s.run for s in result.signals if s.verdict is Verdict.READY}
        ready |= {run for run, verdict in result.verdicts.items() if verdict is Verdict.READY}
        wrong = ready & unprovable
        assert not wrong, counterexample(world, result, verdicts, wrong)

    check()
    # Across the examples, every kind of read fault was really injected, so the property was
    # tested against each.
    assert injected == set(ITEM_READ_FAULTS), set(ITEM_READ_FAULTS) - injected
