"""How to log in here, and what each role may do once logged in.

Route: ``GET /login``. ``/auth/login`` sends a browser here when no identity provider is
configured, so "Log in" explains what to set instead of answering a bare error. The page is
shown to anyone, even where reading needs a login (it would otherwise send its visitor to
``/auth/login`` and back forever), so it shows no state of the agency to anonymous visitors.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from spyagency.web.abilities import allowed_to
from spyagency.web.auth_routes import ROLE_CLAIMS, ROLE_VALUES, OidcClient, safe_next
from spyagency.web.authorization import Role
from spyagency.web.pages.rendering import Banner, PageKit, read_banner, viewer_of

# What an administrator sets to enable login (README's configuration reference).
LOGIN_SETTINGS = (
    ("web.oidc_issuer", "the identity provider's issuer URL (CERN SSO's realm)"),
    ("web.oidc_client_id", "this agency's client id at that provider"),
    ("web.oidc_client_secret", "its client secret"),
    ("web.public_url", "the agency's URL as browsers reach it (the login comes back to it)"),
)


def add_routes(api: APIRouter, kit: PageKit) -> None:
    services = kit.services

    @api.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_help(
        request: Request, next: Annotated[str | None, Query(max_length=2000)] = None
    ) -> Response:
        viewer = viewer_of(request, services.settings.open_read)
        now = services.clock.now()
        configured = OidcClient.from_settings(services.settings) is not None
        if viewer.can_read:
            with services.store.read() as tx:
                banner = read_banner(tx, services, now)
        else:
            banner = Banner(None, True, False, (), login_configured=configured)
        return kit.page(
            request,
            "login.html",
            viewer,
            banner,
            now=now,
            login_configured=configured,
            next_page=safe_next(next),
            roles=[(role.label, allowed_to(role)) for role in Role],
            role_values={value: role.label for value, role in ROLE_VALUES.items()},
            role_claims=ROLE_CLAIMS,
            login_settings=LOGIN_SETTINGS,
        )
