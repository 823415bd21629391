"""Outbox messages as the engine writes them, for the channel tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from spyagency.signalers.channel import OutboundMessage

CREATED = datetime(2026, 11, 2, 10, 30, tzinfo=UTC)


def signal_message(run: int = 362000, **payload: Any) -> OutboundMessage:
    body: dict[str, Any] = {
        "run": run,
        "verdict": "ready",
        "idempotency_key": f"ready:{run}:1",
        "decided_at": "2026-11-02T10:29:00+00:00",
        "evidence_url": f"https://agency.test/runs/{run}",
    }
    body.update(payload)
    return OutboundMessage(
        id=1,
        channel="tier0_webhook",
        kind="signal",
        idempotency_key=str(body["idempotency_key"]),
        payload=body,
        created_at=CREATED,
        run=run,
    )


def alert_message(**payload: Any) -> OutboundMessage:
    body: dict[str, Any] = {
        "kind": "stuck",
        "severity": "critical",
        "state": "firing",
        "run": 362000,
        "workflow": "SiStripGains",
        "source": None,
        "summary": "Run 362000 stuck in harvesting",
        "description": "The harvesting job has run for 7 h; the budget is 6 h.",
        "dedupe_key": "stuck:362000:SiStripGains",
        "opened_at": "2026-11-02T09:00:00+00:00",
        "resolved_at": None,
        "url": "https://agency.test/runs/362000",
    }
    body.update(payload)
    return OutboundMessage(
        id=2,
        channel="alertmanager",
        kind="alert",
        idempotency_key=f"alert:{body['dedupe_key']}:{body['state']}",
        payload=body,
        created_at=CREATED,
        run=body["run"],
    )
