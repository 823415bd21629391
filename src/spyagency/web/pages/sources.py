"""The sources page: per upstream source, its last success, staleness against the policy,
consecutive failures and the last error with its raw text (escaped, in a ``<pre>``).

Route: ``GET /sources``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from spyagency.web.pages.banner import read_banner
from spyagency.web.pages.kit import PageKit
from spyagency.web.pages.viewer import Viewer


def add_routes(api: APIRouter, kit: PageKit) -> None:
    services = kit.services

    @api.get("/sources", response_class=HTMLResponse, include_in_schema=False)
    def sources(request: Request) -> Response:
        viewer = kit.reader(request)
        if not isinstance(viewer, Viewer):
            return viewer
        now = services.clock.now()
        with services.store.read() as tx:
            banner = read_banner(tx, services, now)
        return kit.page(request, "sources.html", viewer, banner, statuses=banner.sources)
