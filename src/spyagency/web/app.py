"""The web application factory: API, live events, login, pages and static files, one app.

``create_app(services)`` builds everything when called (never at import), so tests and the
composition root each get their own app.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spyagency.engine.leadership import ENGINE_LEASE
from spyagency.store.errors import StoreError, unavailable
from spyagency.web import api_docs, auth_routes, live, metrics
from spyagency.web.api import api_router
from spyagency.web.schemas.health import Liveness, ReadinessProbe
from spyagency.web.security import secret_for
from spyagency.web.services import WebServices

STATIC_DIR = Path(__file__).parent / "static"
PAGES_MODULE = "spyagency.web.pages"
OPENAPI_URL = "/openapi.json"

# No inline script or style, nothing from elsewhere, never framed: a page that echoed an
# attacker's text could still not run it.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
# The same, for the responses the app's error handlers build themselves.
ERROR_HEADERS = {name.decode(): value.decode() for name, value in SECURITY_HEADERS}

NOT_FOUND_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Not found - Spy-Agency</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/style.css"></head>
<body><main><h1>Not found</h1><p>There is no page at this address.</p>
<p><a href="/">Back to the dashboard</a></p></main></body></html>
"""

DESCRIPTION = """Spy-Agency watches the CMS Prompt Calibration Loop and tells the Tier-0 when each
run's calibrations are proven in the conditions database.

Reading may be open; actions need an API token (`Authorization: Bearer ...`) or a browser
session (with its CSRF token in `X-CSRF-Token`). Every error body is `{"detail": ...}`."""


class SecurityHeaders:
    """Adds the security headers to every response, streamed ones included (a pure ASGI
    middleware: it never buffers a body, so server-sent events keep flowing)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuses a request body larger than ``limit`` bytes with 413, before any route reads
    it: by its declared length at once, else as soon as the streamed body passes the limit.
    The body is never echoed back."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _too_large(send, self.limit)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # An HTTPException: FastAPI passes it on from body parsing, and the app's
                    # exception middleware answers it as any other 413.
                    raise _BodyTooLarge(413, _too_large_detail(self.limit))
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await _too_large(send, self.limit)


class _BodyTooLarge(HTTPException):
    pass


def _too_large_detail(limit: int) -> str:
    return f"request body larger than {limit} bytes"


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": _too_large_detail(limit)}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _pages_router_factory() -> Callable[[WebServices], APIRouter] | None:
    """The HTML pages' ``router(services)``, when the pages package is installed."""
    if importlib.util.find_spec(PAGES_MODULE) is None:
        return None
    factory = getattr(importlib.import_module(PAGES_MODULE), "router", None)
    return factory if callable(factory) else None


def create_app(services: WebServices) -> FastAPI:
    app = FastAPI(
        title="Spy-Agency",
        version=services.version,
        description=DESCRIPTION,
        openapi_url=OPENAPI_URL,
        # FastAPI's own /docs needs inline script and a CDN, which the CSP forbids: ours
        # (api_docs) serves the vendored Swagger UI started by an external script.
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    app.state.cookie_secret = secret_for(services.settings)
    # An oversized body is refused before any route sees it; SecurityHeaders, added after,
    # is the outer one, so the 413 carries the security headers too.
    app.add_middleware(BodyLimit, limit=services.settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        # A browser asking for a page that does not exist gets a page, not a JSON document;
        # the API (and any client not asking for HTML) keeps its JSON errors.
        wants_html = "text/html" in request.headers.get("accept", "")
        if error.status_code == 404 and wants_html and not request.url.path.startswith("/api/"):
            return HTMLResponse(NOT_FOUND_PAGE, status_code=404)
        return await http_exception_handler(request, error)

    @app.exception_handler(StoreError)
    async def store_error(_request: Request, error: StoreError) -> JSONResponse:
        if not unavailable(error):
            # A bug: on to the server-error handler below, which logs it with its traceback
            # (an answer from here would be a silent 500).
            raise error
        # The database refused or could not be reached (read-only, locked, down): the
        # request may be retried later, and the caller is told so, not "internal error".
        headers = {**ERROR_HEADERS, "retry-after": "30"}
        detail = "the store is unavailable or read-only; try again later"
        return JSONResponse({"detail": detail}, status_code=503, headers=headers)

    @app.exception_handler(Exception)
    async def internal_error(_request: Request, _error: Exception) -> JSONResponse:
        # Never a stack trace or driver message to the caller; the server log has them.
        # Starlette answers this outside every middleware, so the headers are set here.
        return JSONResponse({"detail": "internal error"}, status_code=500, headers=ERROR_HEADERS)

    @app.get("/healthz", response_model=Liveness, tags=["health"])
    def healthz() -> Liveness:
        """The process is alive (for a liveness probe: no database access)."""
        return Liveness(version=services.version)

    @app.get(
        "/readyz",
        response_model=ReadinessProbe,
        responses={503: {"model": ReadinessProbe}},
        tags=["health"],
    )
    def readyz() -> ReadinessProbe | JSONResponse:
        """The database answers and takes writes, and an engine leads (its lease was renewed
        lately).

        503 names what is missing. A load balancer that must keep the pages up while no
        engine runs should probe ``/healthz`` instead.
        """
        try:
            with services.store.read() as tx:
                refusal = tx.write_refusal()
                lease = tx.leader.current(ENGINE_LEASE)
        except Exception:
            down = ReadinessProbe(status="unavailable", database=False)
            return JSONResponse(down.model_dump(), status_code=503)
        if refusal is not None:
            # Pages would still read, but no action, override or verdict could be saved.
            stuck = ReadinessProbe(status="read_only", database=True)
            return JSONResponse(stuck.model_dump(), status_code=503)
        age = datetime.now(UTC) - lease.heartbeat_at if lease is not None else None
        if lease is None or age is None or age > services.leader_timeout:
            lost = ReadinessProbe(status="no_leader", database=True)
            return JSONResponse(lost.model_dump(), status_code=503)
        # An opaque id: a probe is anonymous, and the leader's host and pid are nobody's
        # business there (the audit log and the engine's own metrics name it for operators).
        leader = hashlib.sha256(lease.holder.encode()).hexdigest()[:12]
        return ReadinessProbe(status="ok", database=True, leader=leader, leader_epoch=lease.epoch)

    app.include_router(api_router(services))
    app.include_router(live.router(services))
    app.include_router(metrics.router(services))
    app.include_router(auth_routes.router(services))
    app.include_router(api_docs.router(app.title, OPENAPI_URL))
    pages_router = _pages_router_factory()
    if pages_router is not None:
        app.include_router(pages_router(services))
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
