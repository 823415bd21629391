"""The settings models: every section of the configuration file with its defaults and bounds,
and the checks pydantic runs on each value.

This is what the rest of the agency reads (``Settings`` and its sections); where the values come
from, the file and the environment, is ``config.loading``. Every field here is documented in the
README's configuration reference; a test enforces it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from spyagency.domain.policy import (
    DEFAULT_CRITICAL_SOURCES,
    DEFAULT_STALE_AFTER,
    DEFAULT_STUCK_AFTER,
    Group,
    Policy,
)
from spyagency.domain.states import Source, WorkflowState


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "spyagency"


def default_database_url() -> str:
    return f"sqlite:///{default_data_dir() / 'spyagency.db'}"


# Bounds that keep every duration meaningful: a poll interval of 1e-300 s would spin, a
# timeout of 1e300 h overflows timedelta. A year is the longest anything here may sensibly be.
MAX_HOURS = 24 * 366.0
DAY_S = 86400.0
HOUR_S = 3600.0


class Section(BaseModel):
    # Finite numbers only: TOML and JSON can spell nan and inf, and neither is ever meant.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DatabaseSettings(Section):
    url: str = Field(default_factory=default_database_url)
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _parsable(cls, value: str) -> str:
        try:
            make_url(value)
        except (ArgumentError, ValueError):
            # Never the URL itself in the message: it may hold a password.
            raise ValueError(
                "not a database URL (e.g. sqlite:///path or postgresql://...)"
            ) from None
        return value


class AuthSettings(Section):
    kind: Literal["none", "bearer", "certificate", "oidc"] = "none"
    token: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    # OIDC: the API the token is made out to (OMS: "cmsoms-prod", the default for the OMS
    # source), and how: "exchange" (client credentials, then a token exchange, as the
    # official OMS client does) or "one_step" (CERN's .../api-access/token). Unset: one step
    # when token_url ends in /api-access/token, else the exchange.
    audience: str | None = None
    audience_mode: Literal["exchange", "one_step"] | None = None


class SourceSettings(Section):
    enabled: bool = True
    url: str | None = None
    path: str | None = None
    poll_interval_seconds: float = Field(default=60.0, ge=0.01, le=DAY_S)
    timeout_seconds: float = Field(default=10.0, ge=0.01, le=HOUR_S)
    retries: int = Field(default=2, ge=0, le=10)
    auth: AuthSettings = AuthSettings()


class SourcesSettings(Section):
    tier0: SourceSettings = SourceSettings()
    oms: SourceSettings = SourceSettings()
    harvest: SourceSettings = SourceSettings()
    conddb: SourceSettings = SourceSettings()
    upload_log: SourceSettings = SourceSettings()
    dqm: SourceSettings = SourceSettings()
    wmstats: SourceSettings = SourceSettings()
    conddb_schema: str | None = None
    prompt_global_tags: list[str] = []
    # The phrases (any case) that mark a pcl upload refused as too late in an upload log.
    # Unset: the built-in list (the last public backend's wording and the clients' "too
    # late"); today's service does not publish its own, so operators set it when they learn it.
    upload_late_wording: list[Annotated[str, Field(min_length=3, max_length=200)]] | None = Field(
        default=None, min_length=1
    )

    def by_source(self) -> dict[Source, SourceSettings]:
        return {source: getattr(self, source.value) for source in Source}


class GroupSettings(Section):
    name: str
    workflows: list[str]
    k: int = Field(ge=1)

    @model_validator(mode="after")
    def _k_of_n(self) -> GroupSettings:
        if self.k > len(self.workflows):
            raise ValueError(
                f"group {self.name!r}: k = {self.k} of {len(self.workflows)} workflow(s) can "
                "never be met"
            )
        return self


class PolicySettings(Section):
    reco_delay_hours: float = Field(default=48.0, gt=0, le=MAX_HOURS)
    lock_in_offset_minutes: float = Field(default=30.0, ge=0, le=MAX_HOURS * 60)
    harvest_timeout_hours: float = Field(default=12.0, gt=0, le=MAX_HOURS)
    upload_timeout_hours: float = Field(default=18.0, gt=0, le=MAX_HOURS)
    deadline_lead_hours: float = Field(default=6.0, ge=0, le=MAX_HOURS)
    stuck_after_hours: dict[str, float] = Field(
        default_factory=lambda: {
            s.value: d / timedelta(hours=1) for s, d in DEFAULT_STUCK_AFTER.items()
        }
    )
    stale_after_minutes: dict[str, float] = Field(
        default_factory=lambda: {
            s.value: d / timedelta(minutes=1) for s, d in DEFAULT_STALE_AFTER.items()
        }
    )
    critical_sources: list[str] = Field(
        default_factory=lambda: [s.value for s in Source if s in DEFAULT_CRITICAL_SOURCES]
    )
    optional_workflows: list[str] = []
    disabled_workflows: list[str] = []
    quality_gate: list[str] = ["*"]
    exempt_run_classes: list[str] = []
    magnet_on_above: float = Field(default=3.0, ge=0, le=10)
    groups: list[GroupSettings] = []
    catalogue_path: str | None = None

    @field_validator("stuck_after_hours")
    @classmethod
    def _known_states(cls, value: dict[str, float]) -> dict[str, float]:
        names = {s.value for s in WorkflowState}
        for key in value:
            if key not in names:
                raise ValueError(f"unknown workflow state {key!r}; expected one of {sorted(names)}")
        _check_durations(value, MAX_HOURS, "hours")
        return value

    @field_validator("stale_after_minutes")
    @classmethod
    def _known_sources(cls, value: dict[str, float]) -> dict[str, float]:
        _check_sources(list(value))
        _check_durations(value, MAX_HOURS * 60, "minutes")
        return value

    @field_validator("exempt_run_classes")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        # Applied with re.fullmatch to every run class: a pattern that does not compile would
        # fail every run's judgement, so it is refused here.
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as bad:
                raise ValueError(f"{pattern!r} is not a regular expression: {bad}") from None
        return value

    @field_validator("critical_sources")
    @classmethod
    def _known_critical(cls, value: list[str]) -> list[str]:
        _check_sources(value)
        return value

    def to_policy(self) -> Policy:
        return Policy(
            reco_delay=timedelta(hours=self.reco_delay_hours),
            lock_in_offset=timedelta(minutes=self.lock_in_offset_minutes),
            harvest_timeout=timedelta(hours=self.harvest_timeout_hours),
            upload_timeout=timedelta(hours=self.upload_timeout_hours),
            deadline_lead=timedelta(hours=self.deadline_lead_hours),
            stuck_after={
                WorkflowState(k): timedelta(hours=v) for k, v in self.stuck_after_hours.items()
            },
            stale_after={
                Source(k): timedelta(minutes=v) for k, v in self.stale_after_minutes.items()
            },
            critical_sources=frozenset(Source(s) for s in self.critical_sources),
            optional_workflows=frozenset(self.optional_workflows),
            disabled_workflows=frozenset(self.disabled_workflows),
            groups=tuple(Group(g.name, frozenset(g.workflows), g.k) for g in self.groups),
            quality_gate=frozenset(self.quality_gate),
            exempt_run_classes=tuple(self.exempt_run_classes),
            magnet_on_above=self.magnet_on_above,
        )


def _check_durations(values: Mapping[str, float], limit: float, unit: str) -> None:
    for key, value in values.items():
        if not 0 < value <= limit:
            raise ValueError(f"{key}: {value!r} {unit} is not within (0, {limit:g}]")


def _check_sources(names: list[str]) -> None:
    known = {s.value for s in Source}
    for name in names:
        if name not in known:
            raise ValueError(f"unknown source {name!r}; expected one of {sorted(known)}")


class ClockSettings(Section):
    mode: Literal["system", "scaled"] = "system"
    origin_wall: float | None = None
    origin_sim: float | None = None
    speed: float = Field(default=1.0, gt=0, le=1e6)


class SignalSettings(Section):
    enabled: bool = True
    dry_run: bool = False
    webhook_url: str | None = None
    webhook_secret: str | None = None
    max_per_minute: int = Field(default=60, ge=1)
    # Signals sent at once before max_per_minute paces them: a quiet Tier-0 hears at once
    # about a batch of runs that became ready together, a storm is still spread out.
    burst: int = Field(default=10, ge=1, le=1000)
    max_attempts: int = Field(default=10, ge=1)
    timeout_seconds: float = Field(default=10.0, ge=0.01, le=HOUR_S)


class EmailSettings(Section):
    enabled: bool = False
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    sender: str = "spyagency@localhost"
    recipients: list[str] = []
    starttls: bool = False
    username: str | None = None
    password: str | None = None


class AlertSettings(Section):
    alertmanager_url: str | None = None
    webhook_url: str | None = None
    email: EmailSettings = EmailSettings()


class WebSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str | None = None
    open_read: bool = True
    secret_key: str | None = None
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    # The largest request body accepted (forms and API calls are a few hundred bytes); a
    # larger one is refused with 413 before anything reads it.
    max_body_bytes: int = Field(default=65536, ge=1024, le=16 * 1024 * 1024)


class EngineSettings(Section):
    evaluate_interval_seconds: float = Field(default=5.0, ge=0.01, le=HOUR_S)
    # Leader election among engines on one database: each campaigns once per heartbeat.
    heartbeat_seconds: float = Field(default=5.0, ge=0.01, le=HOUR_S)
    # The engine's own Prometheus endpoint (poll, evaluation, delivery, leadership); 0 = off.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=0, ge=0, le=65535)


class RetentionSettings(Section):
    # Observations of finished runs last seen longer ago than this are compacted into per-run
    # summaries, and older change-feed events deleted; 0 keeps everything forever.
    max_age_days: float = Field(default=90.0, ge=0, le=36500)
    # How often a running engine compacts (each pass is many short transactions).
    compact_every_hours: float = Field(default=6.0, ge=0.01, le=MAX_HOURS)


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_output: bool = False


class Settings(Section):
    database: DatabaseSettings = DatabaseSettings()
    sources: SourcesSettings = SourcesSettings()
    policy: PolicySettings = PolicySettings()
    clock: ClockSettings = ClockSettings()
    signals: SignalSettings = SignalSettings()
    alerts: AlertSettings = AlertSettings()
    web: WebSettings = WebSettings()
    engine: EngineSettings = EngineSettings()
    retention: RetentionSettings = RetentionSettings()
    logging: LoggingSettings = LoggingSettings()
