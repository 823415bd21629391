"""The composition root of the engine side: where its objects are built and wired together.

``build_runtime(settings)`` gives everything a process runs: clock, store, catalogue and
policy, the spies on their schedules, the signal and alert channels, the agency over them.
Checking settings and serving a runtime (web services, web server, metrics) is ``serving``'s.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2

from spyagency.config.settings import AuthSettings, Settings, SourceSettings
from spyagency.domain.catalogue import Catalogue, load_catalogue
from spyagency.domain.clock import Clock, ScaledClock, SystemClock
from spyagency.domain.policy import Policy
from spyagency.domain.states import Source, Verdict
from spyagency.engine.agency import Agency
from spyagency.engine.alerts import AlertKeeper
from spyagency.engine.delivery import Dispatcher
from spyagency.engine.evaluator import Evaluator
from spyagency.engine.leadership import Leadership
from spyagency.engine.metrics import EngineMetrics
from spyagency.engine.polling import Schedule, Supervisor
from spyagency.engine.signals import SignalDesk
from spyagency.signalers.alertmanager import AlertmanagerChannel
from spyagency.signalers.channel import Channel
from spyagency.signalers.chat_webhook import ChatWebhookChannel
from spyagency.signalers.email import EmailChannel
from spyagency.signalers.ratelimit import TokenBucket
from spyagency.signalers.tier0_webhook import ReadinessWebhook
from spyagency.spies.auth import (
    Auth,
    BearerToken,
    ClientCertificate,
    NoAuth,
    OidcClientCredentials,
    audience_mode_for,
)
from spyagency.spies.base import Spy
from spyagency.spies.conddb import CondDbSpy
from spyagency.spies.dqm import DqmSpy
from spyagency.spies.harvest_area import HarvestAreaSpy
from spyagency.spies.http import HttpSettings
from spyagency.spies.oms import OmsRunsSpy
from spyagency.spies.retry import RetryPolicy
from spyagency.spies.tier0 import T0DataServiceSpy
from spyagency.spies.upload_log import UploadLogSpy
from spyagency.spies.upload_log_rows import LATE_WORDING
from spyagency.spies.wmstats import WmStatsSpy
from spyagency.store.controls import SIGNALS_ENABLED
from spyagency.store.database import build_engine
from spyagency.store.migrations import upgrade
from spyagency.store.retention import compact, retention_cutoff
from spyagency.store.uow import Store

log = logging.getLogger(__name__)
SIGNAL_CHANNEL = "tier0_webhook"


def build_clock(settings: Settings) -> Clock:
    clock = settings.clock
    if clock.mode == "scaled":
        if clock.origin_wall is None or clock.origin_sim is None:
            raise ValueError("clock.mode = scaled needs clock.origin_wall and clock.origin_sim")
        return ScaledClock(clock.origin_wall, clock.origin_sim, clock.speed)
    return SystemClock()


def build_store(settings: Settings, *, migrate: bool = True) -> Store:
    if migrate:
        upgrade(settings.database.url)
    return Store(build_engine(settings.database.url, echo=settings.database.echo))


def build_catalogue(settings: Settings) -> Catalogue:
    path = settings.policy.catalogue_path
    return load_catalogue(Path(path) if path else None)


# The audience OMS accepts tokens for (CERN SSO; the official client's default).
OMS_AUDIENCE = "cmsoms-prod"


def build_auth(auth: AuthSettings, default_audience: str | None = None) -> Auth:
    if auth.kind == "bearer" and auth.token:
        return BearerToken(auth.token)
    if auth.kind == "certificate" and auth.cert_file:
        key = Path(auth.key_file) if auth.key_file else None
        return ClientCertificate(Path(auth.cert_file), key)
    if auth.kind == "oidc" and auth.token_url and auth.client_id and auth.client_secret:
        return OidcClientCredentials(
            auth.token_url,
            auth.client_id,
            auth.client_secret,
            audience=auth.audience or default_audience,
            audience_mode=auth.audience_mode or audience_mode_for(auth.token_url),
        )
    if auth.kind != "none":
        raise ValueError(f"auth kind {auth.kind!r} is missing its credentials")
    return NoAuth()


def _conddb_connect_args(source: SourceSettings) -> dict[str, Any]:
    """A sqlite CondDB copy may be locked by its writer: wait at most the source's timeout."""
    if source.url and source.url.startswith("sqlite"):
        return {"timeout": source.timeout_seconds}
    return {}


def build_spies(
    settings: Settings, clock: Clock, transport: httpx2.AsyncBaseTransport | None = None
) -> list[Schedule]:
    """One schedule per enabled source that has somewhere to look.

    ``transport`` replaces the network for every HTTP spy (in-process replays).
    """
    now = clock.now

    def _http(source: SourceSettings, audience: str | None = None) -> dict[str, Any]:
        retry = RetryPolicy(attempts=source.retries + 1)
        return {
            "settings": HttpSettings(timeout=source.timeout_seconds, retry=retry),
            "auth": build_auth(source.auth, audience),
            "transport": transport,
        }

    sources = settings.sources
    built: list[tuple[SourceSettings, Spy | None]] = []
    t0, oms, harvest, conddb = sources.tier0, sources.oms, sources.harvest, sources.conddb
    logs, dqm, wmstats = sources.upload_log, sources.dqm, sources.wmstats
    # The Tier-0 can name only its latest run: with OMS watching, discovery is OMS's.
    oms_discovers = bool(oms.url) and oms.enabled
    tier0 = (
        T0DataServiceSpy(t0.url, clock=now, discover_new_runs=not oms_discovers, **_http(t0))
        if t0.url
        else None
    )
    built.append((t0, tier0))
    built.append(
        (oms, OmsRunsSpy(oms.url, clock=now, **_http(oms, OMS_AUDIENCE)) if oms.url else None)
    )
    # WMStats before the harvest area and DQM: where pollers run in turn (replays), the
    # harvest jobs it reports name the files the harvest spy then looks up (between its
    # listings of the year folder it finds no others), and they make a no-payload workflow's
    # DQM folder worth asking, in the same turn.
    built.append(
        (wmstats, WmStatsSpy(wmstats.url, clock=now, **_http(wmstats)) if wmstats.url else None)
    )
    built.append((harvest, HarvestAreaSpy(Path(harvest.path), clock=now) if harvest.path else None))
    built.append(
        (
            conddb,
            CondDbSpy(
                conddb.url,
                schema=sources.conddb_schema,
                clock=now,
                connect_args=_conddb_connect_args(conddb),
            )
            if conddb.url
            else None,
        )
    )
    wording = tuple(sources.upload_late_wording or LATE_WORDING)
    built.append(
        (
            logs,
            UploadLogSpy(logs.url, clock=now, late_wording=wording, **_http(logs))
            if logs.url
            else None,
        )
    )
    built.append((dqm, DqmSpy(dqm.url, clock=now, **_http(dqm)) if dqm.url else None))
    schedules = []
    for source, spy in built:
        if spy is None or not source.enabled:
            continue
        deadline = max(30.0, source.timeout_seconds * (source.retries + 2) * 3)
        schedules.append(Schedule(spy, source.poll_interval_seconds, deadline))
    return schedules


def build_signal_channels(
    settings: Settings, transport: httpx2.AsyncBaseTransport | None = None
) -> dict[str, Channel]:
    signals = settings.signals
    if not signals.webhook_url:
        return {}
    client = None
    if transport is not None:
        client = httpx2.AsyncClient(transport=transport, timeout=signals.timeout_seconds)
    webhook = ReadinessWebhook(
        signals.webhook_url, signals.webhook_secret, timeout=signals.timeout_seconds, client=client
    )
    return {SIGNAL_CHANNEL: webhook}


def build_alert_channels(settings: Settings, public_url: str | None) -> dict[str, Channel]:
    alerts = settings.alerts
    channels: dict[str, Channel] = {}
    if alerts.alertmanager_url:
        channels["alertmanager"] = AlertmanagerChannel(
            alerts.alertmanager_url, generator_url=public_url
        )
    if alerts.webhook_url:
        channels["webhook"] = ChatWebhookChannel(alerts.webhook_url)
    email = alerts.email
    if email.enabled:
        channels["email"] = EmailChannel(
            email.smtp_host,
            email.smtp_port,
            sender=email.sender,
            recipients=email.recipients,
            starttls=email.starttls,
            username=email.username,
            password=email.password,
        )
    return channels


def enabled_sources(settings: Settings) -> list[Source]:
    by_source = settings.sources.by_source()
    return [s for s in Source if by_source[s].enabled and (by_source[s].url or by_source[s].path)]


def signals_allowed(settings: Settings, store: Store) -> bool:
    """The configuration's kill switch and the experts' runtime switch must both allow."""
    if not settings.signals.enabled:
        return False
    with store.read() as tx:
        switch = tx.controls.get(SIGNALS_ENABLED)
    return switch is None or bool(switch.value)


@dataclass
class Runtime:
    """Everything one process runs, built once."""

    settings: Settings
    clock: Clock
    store: Store
    catalogue: Catalogue
    policy: Policy
    agency: Agency
    channels: dict[str, Channel] = field(default_factory=dict)

    def signals_enabled(self) -> bool:
        return signals_allowed(self.settings, self.store)

    async def aclose(self) -> None:
        """Close what the process opened: the spies' connections to the upstream services
        (left open, their sockets outlive the runtime), the signal channels, the store."""
        for schedule in self.agency.supervisor.schedules:
            await schedule.spy.aclose()
        for channel in self.channels.values():
            await channel.aclose()
        self.store.dispose()


def build_runtime(
    settings: Settings,
    *,
    migrate: bool = True,
    clock: Clock | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> Runtime:
    """Wire one process. ``clock`` and ``transport`` replace the system clock and the network
    (in-process replays and tests); production passes neither."""
    clock = clock or build_clock(settings)
    store = build_store(settings, migrate=migrate)
    catalogue = build_catalogue(settings)
    policy = settings.policy.to_policy()
    public_url = settings.web.public_url
    signal_channels = build_signal_channels(settings, transport)
    alert_channels = build_alert_channels(settings, public_url)
    desk = SignalDesk(
        list(signal_channels), dry_run=settings.signals.dry_run, public_url=public_url
    )
    keeper = AlertKeeper(policy, list(alert_channels), enabled_sources(settings), public_url)
    metrics = EngineMetrics()
    leadership = Leadership(store, heartbeat=timedelta(seconds=settings.engine.heartbeat_seconds))
    # The engine writes through a fenced view: once it has campaigned, a write it makes
    # without holding the lease at its epoch is refused. Web writes use the plain store.
    engine_store = store.with_fence(leadership.fence)
    evaluator = Evaluator(
        engine_store,
        catalogue,
        policy,
        clock,
        desk,
        keeper,
        prompt_global_tags=settings.sources.prompt_global_tags,
    )
    channels = {**signal_channels, **alert_channels}

    def signals_enabled() -> bool:
        return signals_allowed(settings, store)

    def current_verdict(run: int) -> Verdict | None:
        return evaluator.verdicts.get(run)

    dispatcher = Dispatcher(
        engine_store,
        channels,
        clock,
        worker=f"{socket.gethostname()}:{os.getpid()}",
        max_attempts=settings.signals.max_attempts,
        signals_enabled=signals_enabled,
        current_verdict=current_verdict,
        # On the engine's clock, not the machine's: a replay's simulated minutes must refill
        # it, or every signal after the burst would wait minutes of real time.
        signal_rate=TokenBucket(
            settings.signals.max_per_minute,
            burst=settings.signals.burst,
            clock=lambda: clock.now().timestamp(),
        ),
        metrics=metrics,
    )
    schedules = build_spies(settings, clock, transport)

    def compact_old_observations() -> None:
        older_than = retention_cutoff(clock.now(), settings.retention.max_age_days)
        if older_than is None:
            return
        report = compact(engine_store, older_than=older_than, now=clock.now())
        if report.runs or report.events_deleted:
            log.info(
                "compacted %d runs: %d observations and %d events deleted",
                len(report.runs),
                report.observations_deleted,
                report.events_deleted,
            )

    def supervisor(agency: Agency) -> Supervisor:
        return Supervisor(
            schedules, agency.scope, agency.ingest, clock.now, on_poll=metrics.observe_poll
        )

    agency = Agency(
        evaluator,
        dispatcher,
        supervisor,
        tick_seconds=settings.engine.evaluate_interval_seconds,
        leadership=leadership,
        metrics=metrics,
        housekeeping=compact_old_observations,
        housekeeping_seconds=settings.retention.compact_every_hours * 3600.0,
    )
    runtime = Runtime(settings, clock, store, catalogue, policy, agency, channels)
    return runtime
