"""The operator pages: server-rendered HTML that works without JavaScript (actions too: plain
form posts, see ``forms``); ``static/app.js`` only enhances it (live rows by server-sent
events, countdowns, plots).

``router(services)`` builds everything on call, never at import time::

    app.include_router(pages.router(services))
    app.mount("/static", StaticFiles(directory=pages.static_directory()), name="static")
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter

from spyagency.web.pages import (
    alerts,
    audit,
    dashboard,
    forms,
    kpi,
    login,
    run,
    sources,
    workflow,
)
from spyagency.web.pages.kit import PageKit
from spyagency.web.pages.links import UpstreamSites
from spyagency.web.pages.templating import build_environment
from spyagency.web.services import WebServices

PAGE_MODULES = (dashboard, run, workflow, kpi, sources, alerts, audit, login, forms)


def router(services: WebServices) -> APIRouter:
    kit = PageKit(services, build_environment(), UpstreamSites.from_sources(services.sources))
    pages = APIRouter()
    for module in PAGE_MODULES:
        module.add_routes(pages, kit)
    return pages


def static_directory() -> Path:
    """Where the stylesheet, app.js and the vendored libraries live."""
    return Path(str(resources.files("spyagency.web").joinpath("static")))


__all__ = ["router", "static_directory"]
