"""OMS aggregation API (JSON:API) under /agg/api/v1/ (DOMAIN.md 5.2)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from spyagency.simulator.http_common import world_of
from spyagency.simulator.plan import RunPlan
from spyagency.simulator.timefmt import iso_z
from spyagency.simulator.world import World

MAX_PAGE = 1000
DEFAULT_PAGE = 100
YEAR_SUFFIX = "26"


def _int_param(request: Request, name: str, default: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise HTTPException(status_code=400, detail=f"{name} must be an integer") from None


def attributes(run: RunPlan, world: World) -> dict[str, Any]:
    ended = run.number in world.ended
    elapsed = (run.stop if ended else world.now) - run.start
    fraction = min(1.0, elapsed / max(1.0, run.stop - run.start))
    run_class = "Collisions" if run.run_class == "collisions" else "Cosmics"
    return {
        "run_number": run.number,
        "fill_number": run.fill,
        "start_time": iso_z(run.start),
        "end_time": iso_z(run.stop) if ended else None,
        "duration": int(elapsed),
        "stable_beam": run.stable_beam,
        "b_field": run.b_field,
        "energy": run.energy,
        "sequence": "GLOBAL-RUN",
        "hlt_key": run.hlt_key,
        "l1_key": run.l1_key,
        "components": list(run.components),
        "recorded_lumi": round(run.recorded_lumi * fraction, 3),
        "tier0_transfer": True,
        "last_lumisection_number": int(run.lumisections * fraction),
        "class": f"{run_class}{YEAR_SUFFIX}",
    }


def build_router() -> APIRouter:
    router = APIRouter(prefix="/agg/api/v1")

    @router.get("/runs")
    async def runs(request: Request) -> JSONResponse:
        world = world_of(request)
        low = _int_param(request, "filter[run_number][GE]")
        high = _int_param(request, "filter[run_number][LE]")
        equal = _int_param(request, "filter[run_number][EQ]")
        offset = max(0, _int_param(request, "page[offset]", 0) or 0)
        limit = min(MAX_PAGE, max(1, _int_param(request, "page[limit]", DEFAULT_PAGE) or 1))
        sort = request.query_params.get("sort", "run_number")
        if sort not in ("run_number", "-run_number"):
            raise HTTPException(status_code=400, detail=f"cannot sort by {sort!r}")
        with world.lock:
            selected = [
                world.runs[n]
                for n in world.started
                if (low is None or n >= low)
                and (high is None or n <= high)
                and (equal is None or n == equal)
            ]
            selected.sort(key=lambda r: r.number, reverse=sort.startswith("-"))
            page = selected[offset : offset + limit]
            data = [
                {"id": str(r.number), "type": "runs", "attributes": attributes(r, world)}
                for r in page
            ]
        return JSONResponse(
            {
                "data": data,
                "links": _links(request, offset, limit, len(selected)),
                "meta": {"totalResourceCount": len(selected)},
            }
        )

    return router


def _links(request: Request, offset: int, limit: int, total: int) -> dict[str, str]:
    base = str(request.url).split("?")[0]

    def at(new_offset: int) -> str:
        params = dict(request.query_params)
        params["page[offset]"] = str(new_offset)
        params["page[limit]"] = str(limit)
        return f"{base}?{urlencode(params)}"

    links = {"self": at(offset)}
    if offset + limit < total:
        links["next"] = at(offset + limit)
    if offset > 0:
        links["prev"] = at(max(0, offset - limit))
    return links
