"""Draws the LHC timeline: fills of collision runs, inter-fill gaps with cosmics, short runs."""

from __future__ import annotations

import random

from spyagency.simulator.plan import RunClass, RunPlan
from spyagency.simulator.scenario import HOUR, MINUTE, Scenario

LUMISECTION_S = 23.31
FIRST_FILL = 10700
COLLISION_COMPONENTS = (
    "CSC",
    "DAQ",
    "DCS",
    "DQM",
    "DT",
    "ECAL",
    "ES",
    "GEM",
    "HCAL",
    "HF",
    "L1T",
    "PIXEL",
    "PPS",
    "RPC",
    "SCAL",
    "TCDS",
    "TRACKER",
    "TRG",
)
COSMICS_COMPONENTS = (
    "CSC",
    "DAQ",
    "DCS",
    "DQM",
    "DT",
    "ECAL",
    "HCAL",
    "L1T",
    "PIXEL",
    "RPC",
    "TCDS",
    "TRACKER",
    "TRG",
)


class _RunDrawer:
    """Keeps the run-number counter and the random stream while the timeline is laid out."""

    def __init__(self, scenario: Scenario, rng: random.Random) -> None:
        self.scenario = scenario
        self.rng = rng
        self.next_number = scenario.first_run
        self.runs: list[RunPlan] = []

    def draw(self, run_class: RunClass, fill: int, start: float) -> RunPlan:
        mix = self.scenario.runs
        rng = self.rng
        no_express = rng.random() < mix.no_express_fraction
        spread = mix.short_run_minutes if no_express else mix.run_minutes
        length = spread.sample(rng) * MINUTE
        collisions = run_class == "collisions"
        b_field = 3.8 if collisions or rng.random() < 0.8 else 0.0
        run = RunPlan(
            number=self.next_number,
            fill=fill,
            run_class=run_class,
            start=round(start),
            stop=round(start + length),
            lumisections=max(1, int(length / LUMISECTION_S)),
            has_express_data=not no_express,
            b_field=b_field,
            stable_beam=collisions,
            energy=6800.0 if collisions else 0.0,
            components=COLLISION_COMPONENTS if collisions else COSMICS_COMPONENTS,
            recorded_lumi=round(length / HOUR * rng.uniform(150.0, 250.0), 3)
            if collisions
            else 0.0,
            hlt_key=f"/cdaq/physics/Run2026/2e34/v1.{rng.randint(0, 9)}/HLT/V{rng.randint(1, 9)}"
            if collisions
            else "/cdaq/cosmic/commissioning2026/v1.2/HLT/V3",
            l1_key="l1_trg_collisions2026/v41" if collisions else "l1_trg_cosmics2026/v9",
        )
        # Run numbers skip now and then: aborted and test runs never reach the Tier-0.
        self.next_number += rng.choice((1, 1, 1, 1, 2, 3))
        self.runs.append(run)
        return run


def plan_runs(scenario: Scenario, rng: random.Random) -> list[RunPlan]:
    """Alternate fills of collision runs and inter-fill periods, until the scenario ends."""
    mix = scenario.runs
    drawer = _RunDrawer(scenario, rng)
    fill = FIRST_FILL
    t = scenario.start + rng.uniform(5.0, 30.0) * MINUTE
    while t < scenario.end:
        fill += 1
        for _ in range(rng.randint(mix.runs_per_fill_min, mix.runs_per_fill_max)):
            if t >= scenario.end:
                break
            run = drawer.draw("collisions", fill, t)
            t = run.stop + mix.gap_between_runs_minutes.sample(rng) * MINUTE
        interfill_end = t + mix.interfill_hours.sample(rng) * HOUR
        if rng.random() < mix.cosmics_probability:
            for _ in range(rng.randint(1, mix.cosmics_runs_max)):
                if t >= min(interfill_end, scenario.end):
                    break
                run = drawer.draw("cosmics", fill, t)
                t = run.stop + mix.gap_between_runs_minutes.sample(rng) * MINUTE
        t = max(t, interfill_end)
    return drawer.runs
