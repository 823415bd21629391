"""Each simulated workflow has its own upload delay and failure rate (what a forecast needs
to tell them apart), set in the simulator's catalogue."""

from __future__ import annotations

import statistics

from spyagency.simulator.catalogue import load_catalogue
from spyagency.simulator.plan import OutputPlan
from spyagency.simulator.planner import plan_world
from spyagency.simulator.scenario import load_scenario

HOUR = 3600.0


def outputs_of_a_quarter() -> list[OutputPlan]:
    scenario = load_scenario("production_year").replace(duration_s=90 * 24 * HOUR)
    return [
        output
        for run in plan_world(scenario)
        for stream in run.streams
        if stream.harvest is not None
        for plan in stream.harvest.workflows
        for output in plan.outputs
        if output.duplicate_of is None
    ]


def test_each_workflow_uploads_after_its_own_typical_delay() -> None:
    delays: dict[str, list[float]] = {}
    for output in outputs_of_a_quarter():
        delays.setdefault(output.workflow, []).append(output.upload_at - output.created_at)
    medians = {name: statistics.median(values) for name, values in delays.items()}
    by_name = {wf.name: wf for wfs in load_catalogue().workflows_by_producer.values() for wf in wfs}
    # The slowest by its scale is the slowest observed, the quickest the quickest.
    scales = {name: by_name[name].latency_scale for name in medians}
    assert max(medians, key=medians.__getitem__) == max(scales, key=scales.__getitem__)
    assert min(medians, key=medians.__getitem__) == min(scales, key=scales.__getitem__)
    assert medians["SiPixelAliHG"] > 3 * medians["BeamSpotByRun"]


def test_the_catalogue_gives_workflows_different_scales() -> None:
    workflows = [wf for wfs in load_catalogue().workflows_by_producer.values() for wf in wfs]
    assert len({wf.latency_scale for wf in workflows}) > 5
    assert all(0 < wf.failure_scale <= 100 for wf in workflows)
