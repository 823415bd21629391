"""What every page says at the top: are signals to the Tier-0 on, is this a dry run, and
which sources are stale (a stale source makes runs ``unknown``, so it must be visible); to an
anonymous visitor, which actions a login would give; and, for the footer, whose clock the
page's times are on (a demo's runs faster than the wall)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from spyagency.domain.clock import ScaledClock
from spyagency.domain.health import SourceHealth
from spyagency.domain.policy import Policy
from spyagency.domain.states import Source
from spyagency.store.controls import SIGNALS_ENABLED, ControlSetting
from spyagency.store.uow import Transaction
from spyagency.web.abilities import login_offer
from spyagency.web.auth_routes import OidcClient
from spyagency.web.services import WebServices

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
