"""Alerts to Prometheus Alertmanager through its v2 API (``POST /api/v2/alerts``).

The alert payload the engine puts in the outbox (``kind = "alert"``) is, for every channel::

    {"kind": "stuck|failed|rejected_late|quality_failed|source_stale|deadline_at_risk|missed",
     "severity": "warning|critical",
     "state": "firing|resolved",
     "run": 362000 | None, "workflow": "SiStripGains" | None, "source": "t0" | None,
     "summary": "one line", "description": "a paragraph",
     "dedupe_key": "stuck:362000:SiStripGains",
     "opened_at": "2026-11-02T10:00:00+00:00", "resolved_at": ISO | None,
     "url": "https://agency/runs/362000" | None,
     "runbook_url": "https://..." (optional)}

:class:`AlertNotice` reads it (e-mail and chat use it too). Alertmanager receives a list
with one alert::

    [{"labels": {"alertname": "SpyAgencyStuck", "severity": "critical", "run": "362000",
                 "workflow": "SiStripGains", "service": "spyagency"},
      "annotations": {"summary": "...", "description": "...", "runbook_url": "..."},
      "startsAt": "2026-11-02T10:00:00Z", "endsAt": "<only once resolved>",
      "generatorURL": "https://agency/runs/362000"}]

Labels are Alertmanager's identity of an alert, so they hold only what names the condition
(kind, run, workflow, source); words that change between polls go in annotations. A firing
alert has no ``endsAt``: Alertmanager then resolves it by itself after its
``resolve_timeout`` unless it is posted again, so the engine re-sends open alerts.

>>> channel = AlertmanagerChannel("http://alertmanager:9093")
>>> channel.alerts_url
'http://alertmanager:9093/api/v2/alerts'
>>> alertname("deadline_at_risk")
'SpyAgencyDeadlineAtRisk'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx2

from spyagency.signalers.channel import Delivery, DeliveryResult, OutboundMessage
from spyagency.signalers.signing import canonical_json
from spyagency.signalers.tier0_webhook import DEFAULT_TIMEOUT_SECONDS, JsonPoster

ALERTS_PATH = "/api/v2/alerts"
ALERT_STATES = ("firing", "resolved")


def alertname(kind: str) -> str:
    """``stuck`` -> ``SpyAgencyStuck``: one Alertmanager alert name per kind of alert."""
    return "SpyAgency" + "".join(part.capitalize() for part in kind.split("_"))


def _timestamp(value: object, field_name: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{field_name} is not an ISO 8601 time: {value!r}") from None
    else:
        raise ValueError(f"{field_name} is not an ISO 8601 time: {value!r}")
    # The agency keeps UTC everywhere; a naive time is UTC, not the host's zone.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None or value == "":
        return None
    return str(value)


def rfc3339(moment: datetime) -> str:
    """The time format Alertmanager parses: RFC 3339 in UTC with a ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class AlertNotice:
    """One alert payload, checked: what every alert channel shows.

    >>> notice = AlertNotice.from_payload(
    ...     {"kind": "stuck", "severity": "critical", "summary": "Run 362000 stuck",
    ...      "opened_at": "2026-11-02T10:00:00+00:00", "run": 362000})
    >>> (notice.state, notice.run, notice.resolved)
    ('firing', 362000, False)
    """

    kind: str
    severity: str
    summary: str
    opened_at: datetime
    state: str = "firing"
    description: str = ""
    run: int | None = None
    workflow: str | None = None
    source: str | None = None
    dedupe_key: str = ""
    resolved_at: datetime | None = None
    url: str | None = None
    runbook_url: str | None = None

    @property
    def resolved(self) -> bool:
        return self.state == "resolved"

    @classmethod
    def from_payload(
        cls,
        payload: Mapping[str, Any],
        *,
        run: int | None = None,
        created_at: datetime | None = None,
    ) -> AlertNotice:
        """Read an alert payload; ``run`` and ``created_at`` (the outbox row's) fill gaps.

        Raises ``ValueError`` naming the first field that is missing or malformed.
        """
        kind, severity, summary = (_text(payload, key) for key in ("kind", "severity", "summary"))
        if not kind or not severity or not summary:
            raise ValueError("alert payload needs kind, severity and summary")
        state = _text(payload, "state") or "firing"
        if state not in ALERT_STATES:
            raise ValueError(f"alert state must be one of {ALERT_STATES}, not {state!r}")
        raw_run = payload.get("run", run)
        if raw_run is not None and (isinstance(raw_run, bool) or not isinstance(raw_run, int)):
            raise ValueError(f"alert run must be an integer, not {raw_run!r}")
        opened_at = _timestamp(payload.get("opened_at"), "opened_at") or _timestamp(
            created_at, "created_at"
        )
        if opened_at is None:
            raise ValueError("alert payload has no opened_at")
        return cls(
            kind=kind,
            severity=severity,
            summary=summary,
            opened_at=opened_at,
            state=state,
            description=_text(payload, "description") or "",
            run=raw_run,
            workflow=_text(payload, "workflow"),
            source=_text(payload, "source"),
            dedupe_key=_text(payload, "dedupe_key") or "",
            resolved_at=_timestamp(payload.get("resolved_at"), "resolved_at"),
            url=_text(payload, "url"),
            runbook_url=_text(payload, "runbook_url"),
        )


def postable_alert(
    notice: AlertNotice,
    *,
    resolved_fallback: datetime,
    runbook_url: str | None = None,
    generator_url: str | None = None,
) -> dict[str, Any]:
    """The Alertmanager v2 ``PostableAlert`` for ``notice``.

    ``runbook_url`` may contain ``{kind}``; the payload's own ``runbook_url`` wins.
    ``resolved_fallback`` ends a resolved alert whose payload lacks ``resolved_at``.
    """
    candidates = {
        "alertname": alertname(notice.kind),
        "severity": notice.severity,
        "run": str(notice.run) if notice.run is not None else None,
        "workflow": notice.workflow,
        "source": notice.source,
        "service": "spyagency",
    }
    labels = {key: value for key, value in candidates.items() if value is not None}
    annotations = {"summary": notice.summary}
    if notice.description:
        annotations["description"] = notice.description
    runbook = notice.runbook_url or (
        runbook_url.replace("{kind}", notice.kind) if runbook_url else None
    )
    if runbook:
        annotations["runbook_url"] = runbook
    alert: dict[str, Any] = {
        "labels": labels,
        "annotations": annotations,
        "startsAt": rfc3339(notice.opened_at),
    }
    if notice.resolved:
        # Alertmanager refuses an end before the start; clocks of two sources may disagree.
        fallback = _timestamp(resolved_fallback, "resolved_fallback") or notice.opened_at
        ended = max(notice.resolved_at or fallback, notice.opened_at)
        alert["endsAt"] = rfc3339(ended)
    link = notice.url or generator_url
    if link:
        alert["generatorURL"] = link
    return alert


class AlertmanagerChannel:
    """Channel ``alertmanager``: one alert per outbox message to ``<base>/api/v2/alerts``.

    >>> AlertmanagerChannel("http://am:9093/", runbook_url="https://wiki/pcl#{kind}").name
    'alertmanager'
    """

    def __init__(
        self,
        base_url: str | None,
        *,
        client: httpx2.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        runbook_url: str | None = None,
        generator_url: str | None = None,
        headers: Mapping[str, str] | None = None,
        user_agent: str | None = None,
        name: str = "alertmanager",
    ) -> None:
        self.name = name
        self.alerts_url = self._alerts_url(base_url) if base_url else None
        self._runbook_url = runbook_url
        self._generator_url = generator_url
        # For an Alertmanager behind an authenticating proxy (Authorization: Bearer ...).
        self._headers = dict(headers or {})
        self._poster = JsonPoster(client=client, timeout=timeout, user_agent=user_agent)

    @staticmethod
    def _alerts_url(base_url: str) -> str:
        base = base_url.rstrip("/")
        return base if base.endswith(ALERTS_PATH) else base + ALERTS_PATH

    async def send(self, message: OutboundMessage) -> DeliveryResult:
        if not self.alerts_url:
            return DeliveryResult(Delivery.PERMANENT, "alertmanager: no URL configured")
        if message.kind != "alert":
            return DeliveryResult(
                Delivery.PERMANENT, f"alertmanager carries alerts, not {message.kind!r}"
            )
        try:
            notice = AlertNotice.from_payload(
                message.payload, run=message.run, created_at=message.created_at
            )
            alert = postable_alert(
                notice,
                resolved_fallback=message.created_at,
                runbook_url=self._runbook_url,
                generator_url=self._generator_url,
            )
            body = canonical_json([alert])
        except (TypeError, ValueError) as exc:
            return DeliveryResult(Delivery.PERMANENT, f"alertmanager: bad alert payload: {exc}")
        return await self._poster.post(self.alerts_url, body, self._headers)

    async def aclose(self) -> None:
        await self._poster.aclose()
