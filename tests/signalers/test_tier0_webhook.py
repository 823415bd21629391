"""The readiness webhook against a real HTTP receiver that checks the HMAC."""

from __future__ import annotations

import httpx2
import pytest

from spyagency.signalers.channel import Channel, Delivery
from spyagency.signalers.signing import canonical_json
from spyagency.signalers.tier0_webhook import (
    ReadinessSignal,
    ReadinessWebhook,
    classify_status,
    retry_after_seconds,
)
from tests.signalers.conftest import WEBHOOK_SECRET, Receiver
from tests.signalers.messages import alert_message, signal_message


def webhook(receiver: Receiver, client: httpx2.AsyncClient, **kwargs: object) -> ReadinessWebhook:
    return ReadinessWebhook(
        receiver.url("/tier0/readiness"),
        WEBHOOK_SECRET,
        client=client,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_a_signal_arrives_signed_with_its_idempotency_key(
    receiver: Receiver, http_client: httpx2.AsyncClient
) -> None:
    channel: Channel = webhook(receiver, http_client)
    message = signal_message(362000)

    result = await channel.send(message)

    assert result.outcome is Delivery.DELIVERED
    assert result.status_code == 200
    (request,) = receiver.accepted
    assert request.headers["idempotency-key"] == "ready:362000:1"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("spyagency/")
    assert request.body == canonical_json(message.payload)
    assert request.json == dict(message.payload)


async def test_a_retry_carries_the_same_key_and_body(
    receiver: Receiver, http_client: httpx2.AsyncClient
) -> None:
    channel = webhook(receiver, http_client)
    message = signal_message(362001)
    await channel.send(message)
    await channel.send(message)
    first, second = receiver.accepted
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert first.headers["x-spyagency-signature"] == second.headers["x-spyagency-signature"]


async def test_a_wrong_secret_is_refused_for_good(
    receiver: Receiver, http_client: httpx2.AsyncClient
) -> None:
    channel = ReadinessWebhook(
        receiver.url("/tier0/readiness"), "not-the-secret", client=http_client
    )
    result = await channel.send(signal_message())
    assert (result.outcome, result.status_code) == (Delivery.PERMANENT, 401)
    assert "bad signature" in result.detail
    assert receiver.accepted == []


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (500, Delivery.TRANSIENT),
        (502, Delivery.TRANSIENT),
        (503, Delivery.TRANSIENT),
        (408, Delivery.TRANSIENT),
        (429, Delivery.TRANSIENT),
        (400, Delivery.PERMANENT),
        (404, Delivery.PERMANENT),
        (409, Delivery.PERMANENT),
        (422, Delivery.PERMANENT),
    ],
)
async def test_answers_are_classified(
    receiver: Receiver, http_client: httpx2.AsyncClient, status: int, outcome: Delivery
) -> None:
    receiver.answer(status)
    result = await webhook(receiver, http_client).send(signal_message())
    assert (result.outcome, result.status_code) == (outcome, status)
    assert result.detail.startswith(f"HTTP {status}")


async def test_retry_after_is_passed_on(
    receiver: Receiver, http_client: httpx2.AsyncClient
) -> None:
    receiver.answer(429, headers={"Retry-After": "30"})
    result = await webhook(receiver, http_client).send(signal_message())
    assert result.outcome is Delivery.TRANSIENT
    assert result.extra["retry_after_seconds"] == 30.0


async def test_a_redirect_is_not_followed(
    receiver: Receiver, http_client: httpx2.AsyncClient
) -> None:
    receiver.answer(307, headers={"Location": "/elsewhere"})
    result = await webhook(receiver, http_client).send(signal_message())
    assert (result.outcome, result.status_code) == (Delivery.PERMANENT, 307)


async def test_a_slow_receiver_is_a_transient_timeout(
    receiver: Receiver, http_client: httpx2.AsyncClient
) -> None:
    receiver.answer(200, delay=1.5)  # the client gives up after 0.5 s
    result = await webhook(receiver, http_client).send(signal_message())
    assert result.outcome is Delivery.TRANSIENT
    assert "timed out" in result.detail


async def test_connection_refused_is_transient(closed_port_url: str) -> None:
    channel = ReadinessWebhook(closed_port_url + "/tier0/readiness", WEBHOOK_SECRET, timeout=2)
    try:
        result = await channel.send(signal_message())
    finally:
        await channel.aclose()
    assert result.outcome is Delivery.TRANSIENT
    assert "connection failed" in result.detail


async def test_an_impossible_url_is_permanent() -> None:
    channel = ReadinessWebhook("ftp://tier0.test/readiness", WEBHOOK_SECRET)
    result = await channel.send(signal_message())
    await channel.aclose()
    assert result.outcome is Delivery.PERMANENT


@pytest.mark.parametrize(
    ("url", "secret", "fragment"),
    [
        (None, WEBHOOK_SECRET, "no URL"),
        ("", WEBHOOK_SECRET, "no URL"),
        ("http://x", None, "secret"),
    ],
)
async def test_missing_configuration_is_permanent(
    url: str | None, secret: bytes | None, fragment: str
) -> None:
    result = await ReadinessWebhook(url, secret).send(signal_message())
    assert result.outcome is Delivery.PERMANENT
    assert fragment in result.detail


async def test_only_signals_are_pushed_to_the_tier0(
    receiver: Receiver, http_client: httpx2.AsyncClient
) -> None:
    result = await webhook(receiver, http_client).send(alert_message())
    assert result.outcome is Delivery.PERMANENT
    assert receiver.accepted == []


async def test_a_payload_that_is_not_json_is_permanent(http_client: httpx2.AsyncClient) -> None:
    channel = ReadinessWebhook("http://127.0.0.1:9/", WEBHOOK_SECRET, client=http_client)
    result = await channel.send(signal_message(score=float("nan")))
    assert result.outcome is Delivery.PERMANENT
    assert "not JSON" in result.detail


async def test_a_key_that_cannot_be_a_header_is_permanent(http_client: httpx2.AsyncClient) -> None:
    channel = ReadinessWebhook("http://127.0.0.1:9/", WEBHOOK_SECRET, client=http_client)
    result = await channel.send(signal_message(idempotency_key="ready\r\nX-Evil: 1"))
    assert result.outcome is Delivery.PERMANENT


async def test_an_injected_client_is_left_open(
    receiver: Receiver, http_client: httpx2.AsyncClient
) -> None:
    channel = webhook(receiver, http_client)
    await channel.aclose()
    assert not http_client.is_closed


async def test_its_own_client_is_closed_and_recreated(receiver: Receiver) -> None:
    channel = ReadinessWebhook(receiver.url("/tier0/readiness"), WEBHOOK_SECRET, timeout=2)
    assert (await channel.send(signal_message())).outcome is Delivery.DELIVERED
    await channel.aclose()
    await channel.aclose()  # twice is harmless
    assert (await channel.send(signal_message())).outcome is Delivery.DELIVERED
    await channel.aclose()


def test_classification_of_every_status() -> None:
    for status in range(100, 600):
        expected = (
            Delivery.DELIVERED
            if 200 <= status < 300
            else Delivery.TRANSIENT
            if status in (408, 429) or status >= 500
            else Delivery.PERMANENT
        )
        assert classify_status(status) is expected


def test_retry_after_as_http_date() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    assert retry_after_seconds("Mon, 02 Nov 2026 10:01:00 GMT", now) == 60.0
    assert retry_after_seconds("Mon, 02 Nov 2026 09:00:00 GMT", now) == 0.0
    assert retry_after_seconds(None) is None


def test_signal_payload_reading() -> None:
    assert ReadinessSignal.from_payload({}, run=7).run == 7
    assert ReadinessSignal.from_payload({"run": "8"}).run == 8
    for bad in ({}, {"run": True}, {"run": "x"}, {"run": 1.5}):
        with pytest.raises(ValueError):
            ReadinessSignal.from_payload(bad)
