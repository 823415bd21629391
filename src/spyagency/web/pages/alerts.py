"""The alerts page: open alerts (with an acknowledge button for those allowed) and the
history, paged by id.

Route: ``GET /alerts`` (``before`` pages the history on).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from spyagency.web.authorization import Action
from spyagency.web.pages.banner import read_banner
from spyagency.web.pages.kit import PageKit
from spyagency.web.pages.viewer import Viewer

PAGE_SIZE = 50


def add_routes(api: APIRouter, kit: PageKit) -> None:
    services = kit.services

    @api.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
    def alerts(request: Request, before: Annotated[int | None, Query(ge=1)] = None) -> Response:
        viewer = kit.reader(request)
        if not isinstance(viewer, Viewer):
            return viewer
        now = services.clock.now()
        with services.store.read() as tx:
            banner = read_banner(tx, services, now)
            open_alerts = tx.alerts.open_alerts()
            history = tx.alerts.history(limit=PAGE_SIZE + 1, before_id=before)
        older = history[PAGE_SIZE - 1].id if len(history) > PAGE_SIZE else None
        return kit.page(
            request,
            "alerts.html",
            viewer,
            banner,
            open_alerts=open_alerts,
            history=history[:PAGE_SIZE],
            older=older,
            before=before,
            may_ack=viewer.can(Action.ACK_ALERT),
        )
