"""Serving a runtime, and checking beforehand that one can be built.

``check_settings`` tries, without starting anything, the parts a start builds from settings
(clock, catalogue and policy, spies, channels) and lists what fails. ``serve`` runs a
``bootstrap.Runtime``: the agency's loop, the web application over it, whose live streams
wake on this process's evaluations and, on PostgreSQL, on any process's events, and the
engine's own metrics endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import tomllib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server

from spyagency import __version__
from spyagency.bootstrap import (
    Runtime,
    build_alert_channels,
    build_catalogue,
    build_clock,
    build_signal_channels,
    build_spies,
)
from spyagency.config.settings import Settings
from spyagency.domain.catalogue import Catalogue
from spyagency.domain.clock import ManualClock
from spyagency.engine.batches import EvaluationResult
from spyagency.engine.polling import Schedule
from spyagency.store.notifications import is_postgresql, listen
from spyagency.web.services import WebServices

if TYPE_CHECKING:
    # The web application (FastAPI, Jinja2, the API models) and its server are imported only
    # where a process serves the web (in serve): an engine alone, a replay or a bench starts
    # about half a second sooner without them. Here the server is needed for annotations only.
    import uvicorn


def check_settings(settings: Settings) -> list[str]:
    """Every problem ``serve`` would meet building its parts from ``settings``, without
    starting anything (no database connection, no network): the clock, the catalogue, the
    policy against it, every spy with its credentials, the signal and alert channels.
    Messages never carry a secret. Empty: ``serve`` will build everything."""
    problems: list[str] = []

    def attempt(what: str, build: Callable[[], object]) -> object | None:
        try:
            return build()
        except (OSError, ValueError, KeyError, TypeError, tomllib.TOMLDecodeError) as bad:
            problems.append(f"{what}: {bad}")
            return None

    attempt("clock", lambda: build_clock(settings))
    catalogue = attempt("policy.catalogue_path", lambda: build_catalogue(settings))
    if isinstance(catalogue, Catalogue):
        known = {spec.name for spec in catalogue.workflows}
        policy = settings.policy
        named = [
            ("policy.optional_workflows", policy.optional_workflows),
            ("policy.disabled_workflows", policy.disabled_workflows),
            *((f"policy.groups.{g.name}", g.workflows) for g in policy.groups),
        ]
        for key, names in named:
            unknown = sorted(set(names) - known)
            if unknown:
                problems.append(f"{key}: not in the catalogue: {', '.join(unknown)}")
    schedules = attempt("sources", lambda: build_spies(settings, ManualClock(datetime.now(UTC))))
    if isinstance(schedules, list):
        asyncio.run(_close_spies(schedules))
    attempt("signals", lambda: build_signal_channels(settings))
    attempt("alerts", lambda: build_alert_channels(settings, settings.web.public_url))
    if settings.alerts.email.enabled and not settings.alerts.email.recipients:
        problems.append("alerts.email: enabled without recipients")
    return problems


async def _close_spies(schedules: list[Schedule]) -> None:
    for schedule in schedules:
        await schedule.spy.aclose()


def build_web_services(runtime: Runtime, *, with_engine: bool) -> WebServices:
    services = WebServices(
        store=runtime.store,
        clock=runtime.clock,
        settings=runtime.settings.web,
        catalogue=runtime.catalogue,
        policy=runtime.policy,
        engine=runtime.agency if with_engine else None,
        dry_run=runtime.settings.signals.dry_run,
        version=__version__,
        engine_metrics=runtime.agency.metrics.registry if with_engine else None,
        leader_timeout=timedelta(seconds=3 * runtime.settings.engine.heartbeat_seconds),
        sources=runtime.settings.sources,
    )
    tasks: set[asyncio.Task[None]] = set()

    def wake_streams(result: EvaluationResult) -> None:
        if not result.changes and not result.alerts_opened and not result.alerts_resolved:
            return
        task = asyncio.get_running_loop().create_task(services.changes.notify())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    runtime.agency.listeners.append(wake_streams)
    return services


async def listen_for_changes(url: str, services: WebServices) -> None:
    """Wake this process's live streams when any process writes events (PostgreSQL only)."""

    async def wake(_event_id: int) -> None:
        await services.changes.notify()

    await listen(url, wake)


def _start_engine_metrics(runtime: Runtime) -> WSGIServer | None:
    """The engine's own ``/metrics`` endpoint, when configured (a thread of prometheus-client)."""
    engine = runtime.settings.engine
    if not engine.metrics_port:
        return None
    server, _thread = start_http_server(
        engine.metrics_port, engine.metrics_host, registry=runtime.agency.metrics.registry
    )
    return server


def _quiet_server_class() -> type[uvicorn.Server]:
    import uvicorn  # see the TYPE_CHECKING imports; the subclass needs the real base

    class _QuietServer(uvicorn.Server):
        """Leaves signal handling to the command that runs us (engine and web stop together)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return _QuietServer


async def serve(
    runtime: Runtime,
    *,
    engine: bool = True,
    web: bool = True,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[uvicorn.Server | None], None] | None = None,
) -> None:
    """Run the engine, the web server or both until ``stop`` is set (or the task is cancelled).

    ``on_ready`` is called once everything runs, with the web server (``None`` without web).
    """
    import uvicorn  # see the TYPE_CHECKING imports

    from spyagency.web.app import create_app

    stop = stop or asyncio.Event()
    QuietServer = _quiet_server_class()
    server: uvicorn.Server | None = None
    background: list[asyncio.Task[None]] = []
    if web:
        services = build_web_services(runtime, with_engine=engine)
        url = runtime.settings.database.url
        if is_postgresql(url):
            background.append(asyncio.create_task(listen_for_changes(url, services)))
        app = create_app(services)
        config = uvicorn.Config(
            app,
            host=runtime.settings.web.host,
            port=runtime.settings.web.port,
            log_level="warning",
            lifespan="on",
        )
        server = QuietServer(config)
    metrics_server = _start_engine_metrics(runtime) if engine else None
    if engine:
        await runtime.agency.start()
    web_task = asyncio.create_task(server.serve()) if server else None
    try:
        if server is not None:
            while not server.started and web_task is not None and not web_task.done():
                await asyncio.sleep(0.05)
        if on_ready is not None:
            on_ready(server)
        waiter = asyncio.create_task(stop.wait())
        pending = {waiter} | ({web_task} if web_task else set())
        await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if server is not None:
            server.should_exit = True
        if web_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await web_task
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if engine:
            await runtime.agency.stop()
        if metrics_server is not None:
            metrics_server.shutdown()
            metrics_server.server_close()
        await runtime.aclose()
