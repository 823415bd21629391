"""Upload-service logs, DQM GUI JSON and WMStats: the read-only evidence services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from spyagency.simulator.dqm_content import contents_for, dataset_name
from spyagency.simulator.http_common import world_of
from spyagency.simulator.wmstats_content import in_request_cache, job_detail, request_entry
from spyagency.simulator.world import World


def build_logs_router() -> APIRouter:
    router = APIRouter(prefix="/logs/dropBox")

    @router.get("/getFileLog")
    async def get_file_log(request: Request) -> JSONResponse:
        world = world_of(request)
        file_hash = request.query_params.get("fileHash", "")
        with world.lock:
            log = world.upload_logs.get(file_hash)
            if log is None:
                return JSONResponse({"error": f"no upload with file hash {file_hash!r}"}, 404)
            return JSONResponse(log.to_json())

    return router


def _dqm_contents(world: World, run: int, dataset: str, folder: str) -> list[dict[str, Any]]:
    plan = world.runs.get(run)
    if plan is None:
        return []
    for stream in plan.streams:
        if stream.harvest is None or stream.harvest.failed:
            continue
        if (run, stream.stream) not in world.harvested_streams:
            continue
        for wf in stream.harvest.workflows:
            name = dataset_name(stream.stream, world.scenario.tier0.acq_era, wf.workflow.producer)
            if name.strip("/") == dataset:
                contents = contents_for(plan, wf, folder)
                if contents:
                    return contents
    return []


def build_dqm_router() -> APIRouter:
    router = APIRouter(prefix="/dqm/offline/data/json/archive")

    @router.get("/{run}/{primary}/{processed}/{tier}/{folder:path}")
    async def archive(
        request: Request, run: int, primary: str, processed: str, tier: str, folder: str
    ) -> JSONResponse:
        world = world_of(request)
        with world.lock:
            contents = _dqm_contents(world, run, f"{primary}/{processed}/{tier}", folder)
        return JSONResponse({"contents": contents})

    @router.get("/{run}/{primary}/{processed}/{tier}")
    async def archive_top(
        request: Request, run: int, primary: str, processed: str, tier: str
    ) -> JSONResponse:
        return await archive(request, run, primary, processed, tier, "")

    return router


@dataclass
class _ArchivedPrefix:
    """How many of the world's first started runs have all their requests archived.

    Archiving is final, so those runs are never listed again: the requestcache looks only at
    the runs after them, and its cost follows the active requests, not the length of history.
    """

    world: World | None = None
    runs: int = 0

    def skip(self, world: World) -> int:
        if world is not self.world:
            self.world, self.runs = world, 0
        while self.runs < len(world.started) and not any(
            in_request_cache(world.transitions.get(stream.request_name, []))
            for stream in world.runs[world.started[self.runs]].streams
        ):
            self.runs += 1
        return self.runs


def build_wmstats_router() -> APIRouter:
    router = APIRouter(prefix="/t0_reqmon/data")
    archived = _ArchivedPrefix()

    @router.get("/requestcache")
    async def requestcache(request: Request) -> JSONResponse:
        # Only the active requests: archived ones have left the cache (``in_request_cache``).
        world = world_of(request)
        with world.lock:
            entries = {
                stream.request_name: request_entry(
                    stream.request_name, n, stream.stream, world.transitions[stream.request_name]
                )
                for n in world.started[archived.skip(world) :]
                for stream in world.runs[n].streams
                if in_request_cache(world.transitions.get(stream.request_name, []))
            }
        return JSONResponse({"result": [entries]})

    @router.get("/jobdetail/{name}")
    async def jobdetail(request: Request, name: str) -> JSONResponse:
        world = world_of(request)
        with world.lock:
            jobs = list(world.harvest_jobs.get(name, []))
            known = name in world.transitions
        if not known:
            return JSONResponse({"result": []})
        return JSONResponse({"result": [{name: job_detail(name, jobs)}]})

    return router
