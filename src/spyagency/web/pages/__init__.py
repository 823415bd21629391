"""The operator pages: server-rendered HTML that works without JavaScript (actions too: plain
form posts, see ``forms``); ``static/app.js`` only enhances it (live rows by server-sent
events, countdowns, plots).

One module per page holds its read model and its routes (``dashboard``, ``run``, ``workflow``,
``kpi``, ``sources``, ``alerts``, ``audit``, ``login``; ``forms`` the action form posts). What
they share is in two modules: ``rendering``, how a page is built and answered (the template
environment, the page kit, the viewer, the banner, one-time notices, paged lists), and
``presentation``, how a single value reads on any page (times, the looks of states and
verdicts, links from evidence to its upstream page).

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
from spyagency.web.pages.presentation import UpstreamSites
from spyagency.web.pages.rendering import PageKit, build_environment
from spyagency.web.services import WebServices

PAGE_MODULES = (dashboard, run, workflow, kpi, sources, alerts, audit, login, forms)


def router(services: WebServices) -> APIRouter:
    environment = build_environment(cells_html=dashboard.cells_html)
    kit = PageKit(services, environment, UpstreamSites.from_sources(services.sources))
    pages = APIRouter()
    for module in PAGE_MODULES:
        module.add_routes(pages, kit)
    return pages


def static_directory() -> Path:
    """Where the stylesheet, app.js and the vendored libraries live."""
    return Path(str(resources.files("spyagency.web").joinpath("static")))


__all__ = ["router", "static_directory"]
