"""Helpers shared by the simulated services."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse

if TYPE_CHECKING:
    from spyagency.simulator.clock import SimClock
    from spyagency.simulator.world import World

RUN_PATTERN = re.compile(r"^[1-9][0-9]{1,6}$")


def world_of(request: Request) -> World:
    return cast("World", request.app.state.world)


def clock_of(request: Request) -> SimClock:
    return cast("SimClock", request.app.state.clock)


def run_param(request: Request, name: str = "run", required: bool = False) -> int | None:
    """Parse a run number as the Tier-0 data service does: 400 when it does not match."""
    raw = request.query_params.get(name)
    if raw is None:
        if required:
            raise HTTPException(status_code=400, detail=f"missing parameter {name}")
        return None
    if not RUN_PATTERN.match(raw):
        raise HTTPException(status_code=400, detail=f"invalid {name}: {raw!r}")
    return int(raw)


def result(rows: list[Any], cache_seconds: int = 300) -> JSONResponse:
    """The Tier-0 data service envelope; the real service caches answers for 300 s."""
    return JSONResponse({"result": rows}, headers={"Cache-Control": f"max-age={cache_seconds}"})
