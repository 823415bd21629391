"""Tier-0 data service (dmwm/t0wmadatasvc) under /t0wmadatasvc/prod/ (docs/protocols.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from spyagency.simulator.catalogue import load_catalogue
from spyagency.simulator.http_common import result, run_param, world_of
from spyagency.simulator.plan import RunPlan
from spyagency.simulator.world import World

PRIMARY_DATASETS = {
    "collisions": ("EGamma0", "JetMET0", "Muon0", "ZeroBias"),
    "cosmics": ("Cosmics", "NoBPTX"),
}
SCENARIOS = {"collisions": "ppEra_Run3", "cosmics": "cosmicsEra_Run3"}


def _runs(world: World, run: int | None) -> list[RunPlan]:
    if run is None:
        return [world.runs[n] for n in world.started]
    return [world.runs[run]] if run in world.runs and run in world.started else []


def _latest_run(world: World) -> list[RunPlan]:
    """As the real service: without ``run``, ``run_config`` answers the highest run only."""
    return [world.runs[max(world.started)]] if world.started else []


def _latest_released(world: World) -> list[RunPlan]:
    """As the real service: without ``run``, ``reco_config`` answers the highest run it holds
    (runs are in it once released)."""
    released = [n for n in world.releaser.records if _released(world, n)]
    return [world.runs[max(released)]] if released else []


def _express_row(world: World, run: RunPlan, stream: str) -> dict[str, Any]:
    t0 = world.scenario.tier0
    spec = load_catalogue().streams[stream]
    return {
        "run": run.number,
        "stream": stream,
        "cmssw": t0.cmssw,
        "scram_arch": t0.scram_arch,
        "reco_cmssw": t0.cmssw,
        "reco_scram_arch": t0.scram_arch,
        "alca_skim": spec.alca_skim,
        "dqm_seq": spec.dqm_seq,
        "global_tag": t0.express_global_tag,
        "scenario": SCENARIOS[run.run_class],
        "proc_version": 1,
        "multicore": 8,
        "write_tiers": "FEVT,ALCARECO,DQMIO",
        "write_dqm": True,
    }


def _reco_row(world: World, run: RunPlan, dataset: str) -> dict[str, Any]:
    t0 = world.scenario.tier0
    return {
        "run": run.number,
        "primary_dataset": dataset,
        "cmssw": t0.cmssw,
        "global_tag": t0.prompt_global_tag,
        "scram_arch": t0.scram_arch,
        "multicore": 8,
        "write_reco": False,
        "write_dqm": True,
        "write_aod": True,
        "write_miniaod": True,
        "write_nanoaod": True,
        "alca_skim": "TkAlMinBias,SiStripCalMinBias" if run.run_class == "collisions" else "",
        "physics_skim": "",
        "dqm_seq": "@common",
        "scenario": SCENARIOS[run.run_class],
        "proc_version": 1,
    }


def _released(world: World, run: int) -> bool:
    record = world.releaser.records.get(run)
    return record is not None and record.release_time is not None


def build_router() -> APIRouter:
    router = APIRouter(prefix="/t0wmadatasvc/prod")

    @router.get("/hello")
    async def hello() -> JSONResponse:
        return result(["world"])

    @router.get("/firstconditionsaferun")
    async def first_condition_safe_run(request: Request) -> JSONResponse:
        world = world_of(request)
        with world.lock:
            # As the real service: [null] while reco_locked is empty, i.e. before the Tier-0
            # has configured any run for PromptReco (DataFirstConditionSafeRun.py).
            return result([world.fcsr() if world.started else None])

    @router.get("/run_config")
    async def run_config(request: Request) -> JSONResponse:
        world = world_of(request)
        with world.lock:
            run = run_param(request)
            runs = _runs(world, run) if run is not None else _latest_run(world)
            era = world.scenario.tier0.acq_era
            return result([{"run": r.number, "acq_era": era} for r in runs])

    @router.get("/express_config")
    async def express_config(request: Request) -> JSONResponse:
        world = world_of(request)
        stream = request.query_params.get("stream")
        with world.lock:
            rows = [
                _express_row(world, r, s.stream)
                for r in _runs(world, run_param(request))
                for s in r.streams
                if stream in (None, s.stream)
            ]
            return result(rows)

    @router.get("/run_stream_done")
    async def run_stream_done(request: Request) -> JSONResponse:
        # True only once every subscription of the stream's Express workflow finished, i.e.
        # after its harvest and its uploads (the world's "stream_done" event), as the real
        # service's run_stream_done table (dmwm/T0 GetRunStreamDone.py).
        world = world_of(request)
        run = run_param(request, required=True)
        stream = request.query_params.get("stream")
        with world.lock:
            # A count of rows compared with 1: an unknown run or stream is simply [false].
            return result([(run, stream) in world.stream_done])

    @router.get("/reco_config")
    async def reco_config(request: Request) -> JSONResponse:
        world = world_of(request)
        dataset = request.query_params.get("primary_dataset")
        with world.lock:
            run = run_param(request)
            plans = _runs(world, run) if run is not None else _latest_released(world)
            rows = [
                _reco_row(world, r, d)
                for r in plans
                if _released(world, r.number)
                for d in PRIMARY_DATASETS[r.run_class]
                if dataset in (None, d)
            ]
            return result(rows)

    @router.get("/run_dataset_done")
    async def run_dataset_done(request: Request) -> JSONResponse:
        world = world_of(request)
        run = run_param(request, required=True)
        dataset = request.query_params.get("primary_dataset")
        with world.lock:
            plans = _runs(world, run)
            if not plans or dataset not in (None, *PRIMARY_DATASETS[plans[0].run_class]):
                return result([])
            return result([run in world.reco_done])

    @router.get("/promptreco_status")
    async def promptreco_status(request: Request) -> JSONResponse:
        world = world_of(request)
        return result([world.promptreco_enabled(world.now)])

    @router.get("/global_tag_history")
    async def global_tag_history(request: Request) -> JSONResponse:
        t0 = world_of(request).scenario.tier0
        first = world_of(request).scenario.first_run
        return result(
            [
                {
                    "run": first,
                    "express_global_tag": t0.express_global_tag,
                    "reco_global_tag": t0.prompt_global_tag,
                }
            ]
        )

    return router
