"""What every page handler shares: the services, the template environment, the caller, and
one way to answer with HTML."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment

from spyagency.web.pages.banner import Banner
from spyagency.web.pages.links import UpstreamSites
from spyagency.web.pages.notices import clear_notice, pending_notice
from spyagency.web.pages.viewer import Viewer, viewer_of
from spyagency.web.services import WebServices

# Pages show live state and, to a logged-in user, a CSRF token: never cache them.
NO_STORE = {"Cache-Control": "no-store"}
NAVIGATION = (
    ("/", "Dashboard"),
    ("/kpi", "KPI"),
    ("/sources", "Sources"),
    ("/alerts", "Alerts"),
    ("/audit", "Audit"),
)


@dataclass
class PageKit:
    services: WebServices
    environment: Environment
    sites: UpstreamSites = field(default_factory=UpstreamSites)

    def reader(self, request: Request) -> Viewer | Response:
        """The caller if they may read pages, else the answer to send: a redirect to the login
        page that comes back here afterwards."""
        viewer = viewer_of(request, self.services.settings.open_read)
        if viewer.can_read:
            return viewer
        query = f"?{request.url.query}" if request.url.query else ""
        target = quote(request.url.path + query, safe="")
        return RedirectResponse(f"/auth/login?next={target}", status_code=303)

    def render_text(self, template: str, **context: Any) -> str:
        return self.environment.get_template(template).render(**context)

    def render_page(
        self, request: Request, template: str, viewer: Viewer, banner: Banner, **context: Any
    ) -> str:
        """A whole page: ``template`` extends ``base.html``, which needs these names."""
        return self.render_text(
            template,
            viewer=viewer,
            banner=banner,
            now=context.pop("now", None) or self.services.clock.now(),
            version=self.services.version,
            path=request.url.path,
            navigation=NAVIGATION,
            wall=context.pop("wall", False),
            notice=context.pop("notice", None),
            **context,
        )

    def page(
        self,
        request: Request,
        template: str,
        viewer: Viewer,
        banner: Banner,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        """The page, with the notice a form post left for it (shown once, then cleared)."""
        notice = pending_notice(request)
        body = self.render_page(request, template, viewer, banner, notice=notice, **context)
        response = HTMLResponse(body, status_code=status, headers=NO_STORE)
        if notice is not None:
            clear_notice(response)
        return response
