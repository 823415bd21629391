"""One ASGI application serving every simulated upstream service and the /sim/ controls."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from spyagency.simulator import http_control, http_oms, http_tier0
from spyagency.simulator.http_faults import ASGIApp, FaultMiddleware
from spyagency.simulator.http_upstream_misc import (
    build_dqm_router,
    build_logs_router,
    build_wmstats_router,
)

if TYPE_CHECKING:
    from spyagency.simulator.clock import SimClock
    from spyagency.simulator.world import World


def build_app(world: World, clock: SimClock) -> ASGIApp:
    """The simulator's ASGI app; every request first brings the world up to ``clock.now()``."""
    app = FastAPI(title="Spy-Agency simulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.world = world
    app.state.clock = clock
    for router in (
        http_tier0.build_router(),
        http_oms.build_router(),
        build_logs_router(),
        build_dqm_router(),
        build_wmstats_router(),
        http_control.build_router(),
    ):
        app.include_router(router)
    return FaultMiddleware(app, world, clock)
