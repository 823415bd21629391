"""Upload-service logs, DQM GUI JSON and WMStats: the read-only evidence services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from spyagency.simulator.dqm_content import contents_for, dataset_name, fairy_for
from spyagency.simulator.http_common import world_of
from spyagency.simulator.plan import RunPlan, WorkflowPlan
from spyagency.simulator.wmstats_content import (
    DEFAULT_SAMPLE_SIZE,
    in_request_cache,
    job_detail,
    request_entry,
    stream_plan,
)
from spyagency.simulator.world import World


def build_logs_router() -> APIRouter:
    router = APIRouter(prefix="/logs/dropBox")

    @router.get("/getFileLog")
    async def get_file_log(request: Request) -> PlainTextResponse:
        # Plain text, keyed by the upload tarball's sha1; an unknown hash fails the lookup
        # and answers 500, as the real logs service does.
        world = world_of(request)
        file_hash = request.query_params.get("fileHash", "")
        with world.lock:
            log = world.upload_logs.get(file_hash)
            # A late log (read fault late_item) is not known yet: the same 500.
            if log is None or world.log_hidden(file_hash):
                return PlainTextResponse("500 Internal Server Error", status_code=500)
            return PlainTextResponse(log.text())

    return router


def _dqm_workflows(world: World, run: int, dataset: str) -> list[tuple[RunPlan, WorkflowPlan]]:
    """The harvested workflows whose ALCAPROMPT dataset is ``dataset``."""
    plan = world.runs.get(run)
    if plan is None:
        return []
    found = []
    for stream in plan.streams:
        if stream.harvest is None or stream.harvest.failed:
            continue
        if (run, stream.stream) not in world.harvested_streams:
            continue
        for wf in stream.harvest.workflows:
            if world.folder_missing(run, wf.workflow.name):
                continue  # read fault missing_folder: shown as a folder the GUI does not have
            name = dataset_name(stream.stream, world.scenario.tier0.acq_era, wf.workflow.producer)
            if name.strip("/") == dataset:
                found.append((plan, wf))
    return found


def _cut(response: Response) -> Response:
    """The answer cut to its first half, status and type kept (read fault truncated_item)."""
    body = bytes(response.body)
    return Response(
        body[: max(1, len(body) // 2)],
        status_code=response.status_code,
        media_type=response.media_type,
    )


def _dqm_contents(world: World, run: int, dataset: str, folder: str) -> list[dict[str, Any]]:
    for plan, wf in _dqm_workflows(world, run, dataset):
        contents = contents_for(plan, wf, folder)
        if contents:
            return contents
    return []


def _dqm_fairy(world: World, run: int, dataset: str, path: str) -> dict[str, Any] | None:
    for _, wf in _dqm_workflows(world, run, dataset):
        answer = fairy_for(wf, path)
        if answer is not None:
            return answer
    return None


def build_dqm_router() -> APIRouter:
    router = APIRouter(prefix="/dqm/offline")

    @router.get("/jsonfairy/archive/{run}/{primary}/{processed}/{tier}/{path:path}")
    async def jsonfairy(
        request: Request, run: int, primary: str, processed: str, tier: str, path: str
    ) -> Response:
        world = world_of(request)
        with world.lock:
            answer = _dqm_fairy(world, run, f"{primary}/{processed}/{tier}", path)
            cut = world.answers_truncated(run)
        response: Response
        if answer is None:
            # The GUI answers a failed export with its error text, still HTTP 200 (GUI.py).
            response = PlainTextResponse(f"unable to produce a json for {path!r}")
        else:
            response = JSONResponse(answer)
        return _cut(response) if cut else response

    @router.get("/data/json/archive/{run}/{primary}/{processed}/{tier}/{folder:path}")
    async def archive(
        request: Request, run: int, primary: str, processed: str, tier: str, folder: str
    ) -> Response:
        world = world_of(request)
        with world.lock:
            contents = _dqm_contents(world, run, f"{primary}/{processed}/{tier}", folder)
            cut = world.answers_truncated(run)
        response = JSONResponse({"contents": contents})
        return _cut(response) if cut else response

    @router.get("/data/json/archive/{run}/{primary}/{processed}/{tier}")
    async def archive_top(
        request: Request, run: int, primary: str, processed: str, tier: str
    ) -> Response:
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
                    stream.request_name,
                    n,
                    world.transitions[stream.request_name],
                    stream,
                    world.harvest_jobs.get(stream.request_name, []),
                )
                for n in world.started[archived.skip(world) :]
                for stream in world.runs[n].streams
                if in_request_cache(world.transitions.get(stream.request_name, []))
            }
        return JSONResponse({"result": [entries]})

    @router.get("/jobdetail/{name}")
    async def jobdetail(request: Request, name: str) -> Response:
        # WMCore answers {"result": [{}]} for a request without job summaries, known or not.
        world = world_of(request)
        size = request.query_params.get("sample_size", "")
        samples = int(size) if size.isdigit() else DEFAULT_SAMPLE_SIZE
        with world.lock:
            jobs = list(world.harvest_jobs.get(name, []))
            plan = stream_plan(world.runs, name) if name in world.transitions else None
            row = job_detail(name, plan, jobs, samples)
            cut = plan is not None and world.answers_truncated(plan.run)
        response = JSONResponse({"result": [row]})
        return _cut(response) if cut else response

    return router
