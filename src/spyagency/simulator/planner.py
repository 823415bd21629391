"""The whole plan of a scenario: a pure function of the scenario (and so of its seed)."""

from __future__ import annotations

import random

from spyagency.simulator.calib_planner import plan_calibrations
from spyagency.simulator.catalogue import load_catalogue
from spyagency.simulator.fault_planner import plan_item_faults
from spyagency.simulator.plan import RunPlan
from spyagency.simulator.read_fault_planner import plan_read_faults
from spyagency.simulator.run_planner import plan_runs
from spyagency.simulator.scenario import Scenario

# Item faults draw from their own stream: changing fault rates keeps the same runs and timings.
ITEM_FAULT_SALT = 0x5EED_FA17


def plan_world(scenario: Scenario) -> list[RunPlan]:
    rng = random.Random(scenario.seed)
    catalogue = load_catalogue()
    runs = [plan_calibrations(scenario, catalogue, r, rng) for r in plan_runs(scenario, rng)]
    runs = plan_item_faults(scenario, runs, random.Random(scenario.seed ^ ITEM_FAULT_SALT))
    # Read faults come last: they see the item faults (a lost upload has no log to be late)
    # and change nothing that happens, only what is read of it.
    return plan_read_faults(scenario, runs)
