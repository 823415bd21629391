"""The planned world: packaged scenarios load, seeds reproduce worlds, invariants hold."""

from __future__ import annotations

import dataclasses
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spyagency.simulator.catalogue import HarvestWorkflow, load_catalogue
from spyagency.simulator.planner import plan_world
from spyagency.simulator.scenario import Scenario, load_scenario, packaged_scenarios


def test_packaged_scenarios_load() -> None:
    assert {"quiet_day", "bad_day", "production_year"} <= set(packaged_scenarios())
    for name in packaged_scenarios():
        scenario = load_scenario(name)
        assert scenario.name == name
        assert scenario.tier0.reco_delay_s == 48 * 3600
        assert scenario.tier0.reco_delay_offset_s == 30 * 60


def test_same_seed_same_plan_other_seed_other_plan(quiet: Scenario) -> None:
    assert plan_world(quiet) == plan_world(quiet)
    assert plan_world(quiet) != plan_world(quiet.replace(seed=quiet.seed + 1))


def test_catalogue_maps_the_domain_names() -> None:
    catalogue = load_catalogue()
    gains = catalogue.workflows_by_producer["PromptCalibProdSiStripGains"][0]
    assert gains.outputs[0].input_tag == "SiStripApvGain_pcl"
    assert gains.outputs[0].destination_tags == (
        "SiStripApvGain_PCL_v0_hlt",
        "SiStripApvGain_PCL_v0_prompt",
    )
    assert gains.outputs[0].prompt_gt_tag == "SiStripApvGain_PCL_v0_prompt"
    assert gains.outputs[0].synchronization == "pcl"
    express = catalogue.streams["Express"]
    assert "TkAlMinBias" in express.alca_skim.split(",")
    assert "TkAlMinBias" not in catalogue.workflows_by_producer
    cosmics = catalogue.streams["ExpressCosmics"]
    assert cosmics.pcl_producers == (
        "PromptCalibProdSiStrip",
        "PromptCalibProdSiStripLA",
        "PromptCalibProdSiPixelLAMCS",
    )


def test_production_year_has_about_1500_runs() -> None:
    runs = plan_world(load_scenario("production_year"))
    assert 1200 <= len(runs) <= 1800
    assert {r.run_class for r in runs} == {"collisions", "cosmics"}
    assert any(not r.has_express_data for r in runs)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_world_invariants(seed: int) -> None:
    base = load_scenario("bad_day")
    scenario = base.replace(seed=seed, duration_s=2 * 86400.0)
    runs = plan_world(scenario)
    numbers = [r.number for r in runs]
    assert numbers == sorted(set(numbers))
    for previous, run in itertools.pairwise(runs):
        assert previous.stop <= run.start, "runs never overlap"
    for run in runs:
        assert run.start < run.stop
        assert run.has_express_data or not run.all_outputs()
        for stream in run.streams:
            assert stream.express_done_at > run.stop
            if stream.harvest is not None:
                assert stream.harvest.at >= stream.express_done_at
        for out in run.all_outputs():
            assert out.created_at >= run.stop, "harvest never before run end"
            assert out.upload_at > out.created_at, "upload never before the file exists"
            assert all(len(iov.payload_hash) == 40 for iov in out.iovs)


def test_item_faults_do_not_change_the_rest_of_the_world(bad: Scenario) -> None:
    no_faults = bad.replace(faults=dataclasses.replace(bad.faults, item_rates={}, ensure_items=()))
    with_faults, without = plan_world(bad), plan_world(no_faults)
    assert [(r.number, r.start, r.stop) for r in with_faults] == [
        (r.number, r.start, r.stop) for r in without
    ]
    kinds = {k for r in with_faults for o in r.all_outputs() for k in o.faults}
    kinds |= {f.kind for r in with_faults for f in r.read_faults}
    assert kinds >= set(bad.faults.ensure_items)


def test_only_an_alignment_with_a_veto_bin_is_planned_vetoed(quiet: Scenario) -> None:
    catalogue = load_catalogue()
    names = {wf.name for workflows in catalogue.workflows_by_producer.values() for wf in workflows}
    assert {n for n in names if by_name(n).veto_bin} == {"SiPixelAli"}
    assert by_name("SiPixelAliHG").is_alignment and not by_name("SiPixelAliHG").veto_bin
    # Every alignment declines its update: SiPixelAli shows a veto, the high-granularity one
    # (a 6 x 10 grid of fraction checks, no veto bin) a harvest that wrote nothing.
    outcomes = dataclasses.replace(
        quiet.outcomes, alignment_veto_rate=1.0, harvest_failure_rate=0.0
    )
    declining = quiet.replace(outcomes=outcomes, duration_s=2 * 86400.0)
    seen: dict[str, set[str]] = {}
    for run in plan_world(declining):
        for stream in run.streams:
            if stream.harvest is None:
                continue
            for wf in stream.harvest.workflows:
                seen.setdefault(wf.workflow.name, set()).add(wf.outcome)
                if wf.workflow.name.startswith("SiPixelAliHG"):
                    assert wf.outcome == "no_payload" and wf.outputs == ()
    assert seen["SiPixelAli"] == {"vetoed"}
    assert seen["SiPixelAliHG"] == {"no_payload"}
    # With the scenario's own rates, over many runs: vetoes for SiPixelAli, never for HG.
    year = [
        wf
        for run in plan_world(quiet.replace(duration_s=30 * 86400.0))
        for stream in run.streams
        if stream.harvest is not None
        for wf in stream.harvest.workflows
    ]
    assert any(wf.outcome == "vetoed" for wf in year if wf.workflow.name == "SiPixelAli")
    assert not any(wf.outcome == "vetoed" for wf in year if not wf.workflow.veto_bin)


def by_name(name: str) -> HarvestWorkflow:
    catalogue = load_catalogue()
    return next(
        wf
        for workflows in catalogue.workflows_by_producer.values()
        for wf in workflows
        if wf.name == name
    )
