"""What every page is rendered with: the template environment, the ``PageKit`` each page's
routes receive (the services, the caller, one way to answer with HTML), who is looking
(``Viewer``), the banner at the top of every page, the one-time notices a form post leaves,
and the one route shape of the paged lists (alerts, audit). How single values read (times,
looks, evidence links) is ``pages.presentation``.

Viewer: the decision itself lives in ``web.authorization`` (action -> least role); pages only
ask ``may``. A hidden control is a courtesy: the API checks again on every request.

Banner: are signals to the Tier-0 on, is this a dry run, and which sources are stale (a stale
source makes runs ``unknown``, so it must be visible); to an anonymous visitor, which actions a
login would give; and, for the footer, whose clock the page's times are on (a demo's runs
faster than the wall).

Notices ("override placed", "refused: ...") are carried across the redirect that ends a form
post, so plain HTML forms tell people what happened without any JavaScript. The notice travels
in a short-lived signed cookie rather than the URL: a link cannot make the agency appear to say
something it did not, and reloading the page does not repeat it. The page that shows a notice
clears the cookie in the same answer.

Paged lists show one list newest first, paged by id: ``GET <path>?before=<id>`` shows
``PAGE_SIZE`` items below ``before``; the template gets ``entries``, ``older`` (the ``before``
of the next page, or None), ``before``, and whatever ``extra`` reads from the same snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined

from spyagency.domain.clock import ScaledClock
from spyagency.domain.health import SourceHealth
from spyagency.domain.policy import Policy
from spyagency.domain.states import Source
from spyagency.store.controls import SIGNALS_ENABLED, ControlSetting
from spyagency.store.uow import Transaction
from spyagency.web.abilities import login_offer
from spyagency.web.auth_routes import OidcClient
from spyagency.web.authorization import Action, Role, may
from spyagency.web.pages import presentation
from spyagency.web.pages.presentation import UpstreamSites
from spyagency.web.paging import keyset_page
from spyagency.web.security import (
    Principal,
    SignedCookie,
    cookie_secret,
    csrf_token,
    current_principal,
    set_private_cookie,
)
from spyagency.web.services import WebServices

# Who is looking.


@dataclass(frozen=True)
class Viewer:
    principal: Principal | None
    csrf: str
    open_read: bool

    @property
    def name(self) -> str | None:
        return self.principal.name if self.principal else None

    @property
    def role(self) -> str | None:
        return self.principal.role.label if self.principal else None

    def can(self, action: Action | str) -> bool:
        role: Role | None = self.principal.role if self.principal else None
        return may(role, action, open_read=self.open_read)

    @property
    def can_read(self) -> bool:
        return self.can(Action.READ)


def viewer_of(request: Request, open_read: bool) -> Viewer:
    """The caller as a page sees it. Blocking (an API token is looked up in the store): page
    handlers are plain functions, which FastAPI runs in its thread pool."""
    principal = current_principal(request)
    return Viewer(principal, csrf_token(request) if principal else "", open_read)


# One-time notices.

NOTICE_COOKIE = "spyagency_notice"
NOTICE_SECONDS = 120
NOTICE_MAX_TEXT = 500


@dataclass(frozen=True)
class Notice:
    text: str
    ok: bool


def _notice_codec(request: Request) -> SignedCookie:
    return SignedCookie(cookie_secret(request), "notice")


def leave_notice(request: Request, response: Response, notice: Notice) -> None:
    """Attach ``notice`` to ``response`` (a redirect) for the next page to show."""
    payload = {"text": notice.text[:NOTICE_MAX_TEXT], "ok": notice.ok}
    value = _notice_codec(request).dump(payload, NOTICE_SECONDS)
    set_private_cookie(request, response, NOTICE_COOKIE, value, NOTICE_SECONDS)


def pending_notice(request: Request) -> Notice | None:
    """The notice left for this page, if any (a forged or stale cookie is ignored)."""
    data = _notice_codec(request).load(request.cookies.get(NOTICE_COOKIE))
    if data is None or not isinstance(data.get("text"), str):
        return None
    return Notice(data["text"], bool(data.get("ok")))


def clear_notice(response: Response) -> None:
    response.delete_cookie(NOTICE_COOKIE, path="/", httponly=True, samesite="lax")


# The banner.

DEFAULT_STALE_AFTER = timedelta(minutes=30)


@dataclass(frozen=True)
class SourceStatus:
    source: Source
    health: SourceHealth | None
    stale_after: timedelta
    stale: bool
    critical: bool

    def age(self, now: datetime) -> timedelta | None:
        """Time since the last successful read."""
        if self.health is None or self.health.last_success is None:
            return None
        return now - self.health.last_success


@dataclass(frozen=True)
class Banner:
    signals: ControlSetting | None
    signals_configured: bool
    dry_run: bool
    sources: tuple[SourceStatus, ...]
    # An identity provider is configured (web.oidc_*): "Log in" leads to it, not to help.
    login_configured: bool = False
    # Simulated seconds per wall second when the agency follows a time-scaled world.
    clock_speed: float | None = None

    @property
    def login_offer(self) -> str:
        return login_offer()

    @property
    def switched_off(self) -> bool:
        """An expert pulled the runtime kill switch (no stored setting means on)."""
        return self.signals is not None and not bool(self.signals.value)

    @property
    def signals_enabled(self) -> bool:
        """Both the configuration and the experts' runtime switch must allow signals."""
        return self.signals_configured and not self.switched_off

    @property
    def stale(self) -> list[SourceStatus]:
        return [status for status in self.sources if status.stale]


def source_statuses(
    health: dict[Source, SourceHealth], policy: Policy, now: datetime
) -> tuple[SourceStatus, ...]:
    """Every source the agency knows, including those never heard from (stale by rule)."""
    statuses = []
    for source in Source:
        record = health.get(source)
        threshold = policy.stale_after.get(source, DEFAULT_STALE_AFTER)
        stale = record is None or record.is_stale(now, threshold)
        critical = source in policy.critical_sources
        statuses.append(SourceStatus(source, record, threshold, stale, critical))
    return tuple(statuses)


def read_banner(tx: Transaction, services: WebServices, now: datetime) -> Banner:
    health = tx.health.all()
    settings = services.settings
    clock = services.clock
    return Banner(
        tx.controls.get(SIGNALS_ENABLED),
        services.signals_configured,
        services.dry_run,
        source_statuses(health, services.policy, now),
        login_configured=OidcClient.from_settings(settings) is not None,
        clock_speed=clock.speed if isinstance(clock, ScaledClock) else None,
    )


# The template environment.


def build_environment(**page_helpers: Callable[..., Any]) -> Environment:
    """The Jinja2 environment of the pages: autoescaping everywhere, undefined names are
    errors, and the presentation helpers every template may call. One per app (built by
    ``router``, never at import time). ``page_helpers``: functions of one page that its
    templates call (the dashboard's ``cells_html``), passed in so this module imports no page."""
    environment = Environment(
        loader=PackageLoader("spyagency.web", "templates"),
        # Every template is HTML: escape whatever its extension, including partials.
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    environment.globals.update(
        state_look=presentation.state_look,
        verdict_look=presentation.verdict_look,
        source_css=presentation.source_css,
        when=presentation.when,
        when_seconds=presentation.when_seconds,
        iso=presentation.iso,
        duration=presentation.duration,
        **page_helpers,
    )
    return environment


# What every page handler shares.

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


# Paged lists (alerts, audit).

PAGE_SIZE = 50
Item = TypeVar("Item")
Fetch = Callable[[Transaction, int, int | None], Sequence[Item]]


def _nothing_more(_tx: Transaction) -> dict[str, Any]:
    return {}


def add_paged_list(
    api: APIRouter,
    kit: PageKit,
    path: str,
    template: str,
    fetch: Fetch[Item],
    key: Callable[[Item], int],
    extra: Callable[[Transaction], dict[str, Any]] = _nothing_more,
) -> None:
    """``fetch(tx, limit, before)``: up to ``limit`` items below ``before``, newest first."""
    services = kit.services

    @api.get(path, response_class=HTMLResponse, include_in_schema=False)
    def paged_list(request: Request, before: Annotated[int | None, Query(ge=1)] = None) -> Response:
        viewer = kit.reader(request)
        if not isinstance(viewer, Viewer):
            return viewer
        with services.store.read() as tx:
            banner = read_banner(tx, services, services.clock.now())
            page = keyset_page(fetch(tx, PAGE_SIZE + 1, before), PAGE_SIZE, key)
            context = extra(tx)
        return kit.page(
            request,
            template,
            viewer,
            banner,
            entries=page.items,
            older=page.next_before,
            before=before,
            **context,
        )
