"""Alerts to a real HTTP receiver that validates Alertmanager's v2 PostableAlert shape."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx2
import pytest

from spyagency.signalers.alertmanager import AlertmanagerChannel, AlertNotice, alertname
from spyagency.signalers.channel import Channel, Delivery
from tests.signalers.conftest import Receiver
from tests.signalers.messages import CREATED, alert_message, signal_message


def channel_for(receiver: Receiver, client: httpx2.AsyncClient, **kwargs: object) -> Channel:
    return AlertmanagerChannel(receiver.base_url, client=client, **kwargs)  # type: ignore[arg-type]


async def test_a_firing_alert_arrives_in_v2_shape(
    receiver: Receiver, http_client: httpx2.AsyncClient
) -> None:
    result = await channel_for(receiver, http_client).send(alert_message())

    assert result.outcome is Delivery.DELIVERED
    (request,) = receiver.accepted
    assert request.path == "/api/v2/alerts"
    assert request.headers["user-agent"].startswith("spyagency/")
    (alert,) = request.json
    assert alert == {
        "labels": {
            "alertname": "SpyAgencyStuck",
            "severity": "critical",
            "run": "362000",
            "workflow": "SiStripGains",
            "service": "spyagency",
        },
        "annotations": {
            "summary": "Run 362000 stuck in harvesting",
            "description": "The harvesting job has run for 7 h; the budget is 6 h.",
        },
        "startsAt": "2026-11-02T09:00:00Z",
        "generatorURL": "https://agency.test/runs/362000",
    }


async def test_a_resolved_alert_carries_its_end(
    receiver: Receiver, http_client: httpx2.AsyncClient
) -> None:
    message = alert_message(state="resolved", resolved_at="2026-11-02T11:15:00+00:00")
    assert (await channel_for(receiver, http_client).send(message)).outcome is Delivery.DELIVERED
    (alert,) = receiver.accepted[0].json
    assert alert["endsAt"] == "2026-11-02T11:15:00Z"


async def test_a_resolved_alert_without_time_ends_when_queued(
    receiver: Receiver, http_client: httpx2.AsyncClient
) -> None:
    await channel_for(receiver, http_client).send(alert_message(state="resolved"))
    (alert,) = receiver.accepted[0].json
    assert datetime.fromisoformat(alert["endsAt"]) == CREATED


async def test_an_end_before_the_start_is_clamped(
    receiver: Receiver, http_client: httpx2.AsyncClient
) -> None:
    message = alert_message(state="resolved", resolved_at="2026-11-02T08:00:00+00:00")
    assert (await channel_for(receiver, http_client).send(message)).outcome is Delivery.DELIVERED
    (alert,) = receiver.accepted[0].json
    assert alert["endsAt"] == alert["startsAt"]


async def test_a_source_alert_has_no_run_label(
    receiver: Receiver, http_client: httpx2.AsyncClient
) -> None:
    message = alert_message(
        kind="source_stale",
        severity="warning",
        run=None,
        workflow=None,
        source="condb",
        summary="CondDB silent for 20 min",
        url=None,
    )
    channel = channel_for(receiver, http_client, generator_url="https://agency.test/sources")
    assert (await channel.send(message)).outcome is Delivery.DELIVERED
    (alert,) = receiver.accepted[0].json
    assert alert["labels"] == {
        "alertname": "SpyAgencySourceStale",
        "severity": "warning",
        "source": "condb",
        "service": "spyagency",
    }
    assert alert["generatorURL"] == "https://agency.test/sources"


async def test_runbook_links(receiver: Receiver, http_client: httpx2.AsyncClient) -> None:
    channel = channel_for(receiver, http_client, runbook_url="https://wiki.test/pcl#{kind}")
    await channel.send(alert_message())
    await channel.send(alert_message(runbook_url="https://wiki.test/special"))
    first, second = (request.json[0] for request in receiver.accepted)
    assert first["annotations"]["runbook_url"] == "https://wiki.test/pcl#stuck"
    assert second["annotations"]["runbook_url"] == "https://wiki.test/special"


@pytest.mark.parametrize(
    "base", ["{base}", "{base}/", "{base}/api/v2/alerts", "{base}/api/v2/alerts/"]
)
async def test_base_url_forms(
    receiver: Receiver, http_client: httpx2.AsyncClient, base: str
) -> None:
    channel = AlertmanagerChannel(base.format(base=receiver.base_url), client=http_client)
    assert (await channel.send(alert_message())).outcome is Delivery.DELIVERED


async def test_extra_headers_are_sent(receiver: Receiver, http_client: httpx2.AsyncClient) -> None:
    channel = channel_for(receiver, http_client, headers={"Authorization": "Bearer t0k"})
    await channel.send(alert_message())
    assert receiver.accepted[0].headers["authorization"] == "Bearer t0k"


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(500, Delivery.TRANSIENT), (429, Delivery.TRANSIENT), (400, Delivery.PERMANENT)],
)
async def test_answers_are_classified(
    receiver: Receiver, http_client: httpx2.AsyncClient, status: int, outcome: Delivery
) -> None:
    receiver.answer(status)
    result = await channel_for(receiver, http_client).send(alert_message())
    assert (result.outcome, result.status_code) == (outcome, status)


async def test_a_slow_alertmanager_is_transient(
    receiver: Receiver, http_client: httpx2.AsyncClient
) -> None:
    receiver.answer(200, delay=1.5)
    result = await channel_for(receiver, http_client).send(alert_message())
    assert result.outcome is Delivery.TRANSIENT


async def test_connection_refused_is_transient(
    closed_port_url: str, http_client: httpx2.AsyncClient
) -> None:
    result = await AlertmanagerChannel(closed_port_url, client=http_client).send(alert_message())
    assert result.outcome is Delivery.TRANSIENT


@pytest.mark.parametrize(
    "change",
    [
        {"summary": ""},
        {"kind": None},
        {"severity": None},
        {"state": "pending"},
        {"run": "362000"},
        {"opened_at": "yesterday"},
        {"resolved_at": 12},
    ],
)
async def test_malformed_payloads_are_permanent(
    receiver: Receiver, http_client: httpx2.AsyncClient, change: dict[str, object]
) -> None:
    result = await channel_for(receiver, http_client).send(alert_message(**change))
    assert result.outcome is Delivery.PERMANENT
    assert "bad alert payload" in result.detail
    assert receiver.accepted == []


async def test_signals_and_missing_url_are_permanent(http_client: httpx2.AsyncClient) -> None:
    assert (
        await AlertmanagerChannel("http://am.test", client=http_client).send(signal_message())
    ).outcome is Delivery.PERMANENT
    result = await AlertmanagerChannel(None).send(alert_message())
    assert result.outcome is Delivery.PERMANENT
    assert "no URL" in result.detail


def test_alert_names() -> None:
    assert alertname("stuck") == "SpyAgencyStuck"
    assert alertname("rejected_late") == "SpyAgencyRejectedLate"
    assert alertname("quality_failed") == "SpyAgencyQualityFailed"
    assert alertname("deadline_at_risk") == "SpyAgencyDeadlineAtRisk"


def test_naive_times_are_utc_and_created_at_fills_a_missing_start() -> None:
    notice = AlertNotice.from_payload(
        {
            "kind": "failed",
            "severity": "critical",
            "summary": "s",
            "opened_at": "2026-11-02T09:00:00",
        }
    )
    assert notice.opened_at == datetime(2026, 11, 2, 9, tzinfo=UTC)
    filled = AlertNotice.from_payload(
        {"kind": "failed", "severity": "critical", "summary": "s"}, created_at=CREATED
    )
    assert filled.opened_at == CREATED
    with pytest.raises(ValueError, match="opened_at"):
        AlertNotice.from_payload({"kind": "failed", "severity": "critical", "summary": "s"})
