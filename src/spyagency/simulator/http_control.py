"""Control and ground-truth endpoints under /sim/, and the Tier-0's readiness webhook."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from spyagency.simulator.clock import ManualClock
from spyagency.simulator.http_common import clock_of, world_of
from spyagency.simulator.readiness import SIGNATURE_HEADER, parse_signals, signature_ok
from spyagency.simulator.timefmt import iso_micro, parse_iso
from spyagency.simulator.truth import world_truth


def build_router() -> APIRouter:
    router = APIRouter(prefix="/sim")

    @router.get("/clock")
    async def clock(request: Request) -> JSONResponse:
        return JSONResponse(clock_of(request).describe())

    @router.get("/status")
    async def status(request: Request) -> JSONResponse:
        world = world_of(request)
        with world.lock:
            return JSONResponse(
                {
                    "scenario": world.scenario.name,
                    "now": iso_micro(world.now),
                    "runs_started": len(world.started),
                    "runs_planned": len(world.plan),
                    "fcsr": world.fcsr(),
                    "promptreco_status": world.promptreco_enabled(world.now),
                }
            )

    @router.get("/truth")
    async def truth(request: Request) -> JSONResponse:
        world = world_of(request)
        with world.lock:
            body = world_truth(world, world.releaser.records, list(world.faults.injected))
            body["fault_counts"] = dict(world.faults.counts)
        run = request.query_params.get("run")
        if run is not None:
            body["runs"] = [r for r in body["runs"] if str(r["run"]) == run]
        return JSONResponse(body)

    @router.get("/faults")
    async def faults(request: Request) -> JSONResponse:
        return JSONResponse(world_of(request).faults.to_json())

    @router.post("/faults")
    async def change_faults(request: Request) -> JSONResponse:
        world = world_of(request)
        try:
            body = await request.json()
            with world.lock:
                for window in world.faults.update(body):
                    world.schedule_window(window.kind, window.start, window.end, window.service)
        except (ValueError, KeyError, TypeError) as error:
            raise HTTPException(status_code=400, detail=str(error)) from None
        return JSONResponse(world.faults.to_json())

    @router.post("/advance")
    async def advance(request: Request) -> JSONResponse:
        """Manual clocks only: {"to": "<ISO>"} or {"seconds": <float>}."""
        clock = clock_of(request)
        if not isinstance(clock, ManualClock):
            raise HTTPException(status_code=409, detail="the clock is scaled, not manual")
        body: dict[str, Any] = await request.json()
        try:
            target = parse_iso(body["to"]) if "to" in body else clock.now() + float(body["seconds"])
            clock.set(target)
        except (KeyError, ValueError) as error:
            raise HTTPException(status_code=400, detail=str(error)) from None
        world_of(request).advance_to(target)
        return JSONResponse(clock.describe())

    @router.post("/tier0/readiness")
    async def readiness_webhook(request: Request) -> JSONResponse:
        world = world_of(request)
        settings = world.scenario.readiness
        if not settings.webhook:
            raise HTTPException(status_code=404, detail="the Tier-0 takes no webhooks here")
        raw = await request.body()
        if not signature_ok(raw, settings.secret, request.headers.get(SIGNATURE_HEADER)):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        try:
            signals = parse_signals(json.loads(raw), request.headers.get("Idempotency-Key"))
        except ValueError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        outcomes = [
            world.receive_ready(s.run, s.idempotency_key, "webhook")
            if s.verdict == "ready"
            else {"run": s.run, "action": "not_ready", "duplicate": False}
            for s in signals
        ]
        return JSONResponse({"accepted": True, "results": outcomes})

    return router
