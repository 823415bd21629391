"""The audit page: who did what to which target, newest first, paged by id.

Route: ``GET /audit`` (``before`` pages on).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from spyagency.web.pages.banner import read_banner
from spyagency.web.pages.kit import PageKit
from spyagency.web.pages.viewer import Viewer

PAGE_SIZE = 50


def add_routes(api: APIRouter, kit: PageKit) -> None:
    services = kit.services

    @api.get("/audit", response_class=HTMLResponse, include_in_schema=False)
    def audit(request: Request, before: Annotated[int | None, Query(ge=1)] = None) -> Response:
        viewer = kit.reader(request)
        if not isinstance(viewer, Viewer):
            return viewer
        now = services.clock.now()
        with services.store.read() as tx:
            banner = read_banner(tx, services, now)
            entries = tx.audit.list(limit=PAGE_SIZE + 1, before_id=before)
        older = entries[PAGE_SIZE - 1].id if len(entries) > PAGE_SIZE else None
        return kit.page(
            request,
            "audit.html",
            viewer,
            banner,
            entries=entries[:PAGE_SIZE],
            older=older,
            before=before,
        )
