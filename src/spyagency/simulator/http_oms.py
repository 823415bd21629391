"""OMS aggregation API (JSON:API) under /agg/api/v1/, and the SSO that issues its tokens.

Besides the global runs of the plan, OMS lists local/MiniDAQ runs (``sequence`` MINIDAQ,
``tier0_transfer`` false) in some of the run numbers the plan skips: the Tier-0 never sees
them. A bearer token must be made out to ``cmsoms-prod`` (401 otherwise); a request without
one is served, so that an agency without credentials can watch the simulator.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from spyagency.simulator.http_common import world_of
from spyagency.simulator.oidc import ApiTokenIssuer
from spyagency.simulator.plan import RunPlan
from spyagency.simulator.timefmt import iso_z
from spyagency.simulator.world import World

MAX_PAGE = 1000
DEFAULT_PAGE = 100
YEAR_SUFFIX = "26"
OMS_AUDIENCE = "cmsoms-prod"
PREFIX = "/agg/api/v1"
# A local run starts this long after the global run before it ends, and ends this long
# before the next global run starts (both at most a quarter of the gap).
LOCAL_RUN_MARGIN_S = 120.0


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


def local_runs(world: World) -> list[tuple[int, dict[str, Any]]]:
    """The MiniDAQ runs OMS lists: one in the first number a planned run skips, between the
    end of the run before and the start of the run after.

    It appears when the run before ends and ends when the run after starts."""
    started = set(world.started)
    found: list[tuple[int, dict[str, Any]]] = []
    for before, after in zip(world.plan, world.plan[1:], strict=False):
        if after.number <= before.number + 1 or before.number not in world.ended:
            continue
        gap = max(0.0, after.start - before.stop)
        margin = min(LOCAL_RUN_MARGIN_S, gap / 4)
        start, stop = before.stop + margin, after.start - margin
        number = before.number + 1
        found.append(
            (
                number,
                {
                    "run_number": number,
                    "fill_number": None,
                    "start_time": iso_z(start),
                    "end_time": iso_z(stop) if after.number in started else None,
                    "duration": int(stop - start),
                    "stable_beam": False,
                    "b_field": before.b_field,
                    "energy": None,
                    "sequence": "MINIDAQ",
                    "hlt_key": None,
                    "l1_key": None,
                    "components": ["PIXEL"] if number % 2 else ["ECAL"],
                    "recorded_lumi": None,
                    "tier0_transfer": False,
                    "last_lumisection_number": None,
                },
            )
        )
    return found


def build_router(issuer: ApiTokenIssuer | None = None) -> APIRouter:
    issuer = issuer or ApiTokenIssuer()
    router = APIRouter()
    router.include_router(issuer.router())

    @router.get(PREFIX + "/runs")
    async def runs(request: Request) -> JSONResponse:
        check_token(request, issuer)
        world = world_of(request)
        low = _int_param(request, "filter[run_number][GE]")
        high = _int_param(request, "filter[run_number][LE]")
        equal = _int_param(request, "filter[run_number][EQ]")
        offset = max(0, _int_param(request, "page[offset]", 0) or 0)
        limit = min(MAX_PAGE, max(1, _int_param(request, "page[limit]", DEFAULT_PAGE) or 1))
        sort = request.query_params.get("sort", "run_number")
        if sort not in ("run_number", "-run_number"):
            raise HTTPException(status_code=400, detail=f"cannot sort by {sort!r}")

        def wanted(n: int) -> bool:
            return (
                (low is None or n >= low)
                and (high is None or n <= high)
                and (equal is None or n == equal)
            )

        with world.lock:
            selected = [
                (n, attributes(world.runs[n], world)) for n in world.started if wanted(n)
            ] + [(n, attrs) for n, attrs in local_runs(world) if wanted(n)]
            selected.sort(key=lambda r: r[0], reverse=sort.startswith("-"))
            data = [
                {"id": str(n), "type": "runs", "attributes": attrs}
                for n, attrs in selected[offset : offset + limit]
            ]
        return JSONResponse(
            {
                "data": data,
                "links": _links(request, offset, limit, len(selected)),
                "meta": {"totalResourceCount": len(selected)},
            }
        )

    return router


def check_token(request: Request, issuer: ApiTokenIssuer) -> None:
    """A bearer token must be live and made out to OMS: a client's own token is refused."""
    header = request.headers.get("authorization")
    if header is None:
        return
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or issuer.audience_of(token.strip()) != OMS_AUDIENCE:
        raise HTTPException(status_code=401, detail="token not valid for cmsoms-prod")


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
