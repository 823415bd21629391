"""Chat messages to a real Mattermost/Slack-style incoming webhook receiver."""

from __future__ import annotations

import httpx2
import pytest

from spyagency.signalers.channel import Channel, Delivery, OutboundMessage
from spyagency.signalers.chat_webhook import ChatWebhookChannel
from tests.signalers.conftest import Receiver
from tests.signalers.messages import CREATED, alert_message, signal_message


def channel_for(receiver: Receiver, client: httpx2.AsyncClient, **kwargs: object) -> Channel:
    return ChatWebhookChannel(receiver.url("/hooks/chat"), client=client, **kwargs)  # type: ignore[arg-type]


async def test_an_alert_is_a_headline_and_its_description(
    receiver: Receiver, http_client: httpx2.AsyncClient
) -> None:
    result = await channel_for(receiver, http_client).send(alert_message())
    assert result.outcome is Delivery.DELIVERED
    (request,) = receiver.accepted
    assert request.json == {
        "text": "[CRITICAL] Run 362000 stuck in harvesting (run 362000, workflow SiStripGains) "
        "https://agency.test/runs/362000\n"
        "The harvesting job has run for 7 h; the budget is 6 h."
    }


async def test_a_resolved_alert_says_resolved(
    receiver: Receiver, http_client: httpx2.AsyncClient
) -> None:
    message = alert_message(state="resolved", description="", url=None)
    await channel_for(receiver, http_client).send(message)
    assert receiver.accepted[0].json["text"] == (
        "[RESOLVED] Run 362000 stuck in harvesting (run 362000, workflow SiStripGains)"
    )


async def test_a_signal_says_the_run_is_ready(
    receiver: Receiver, http_client: httpx2.AsyncClient
) -> None:
    await channel_for(receiver, http_client, username="spyagency").send(signal_message(362005))
    assert receiver.accepted[0].json == {
        "text": "[READY] Run 362005 is ready for PromptReco https://agency.test/runs/362005",
        "username": "spyagency",
    }


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (500, Delivery.TRANSIENT),
        (429, Delivery.TRANSIENT),
        (403, Delivery.PERMANENT),
        (404, Delivery.PERMANENT),
    ],
)
async def test_answers_are_classified(
    receiver: Receiver, http_client: httpx2.AsyncClient, status: int, outcome: Delivery
) -> None:
    receiver.answer(status)
    result = await channel_for(receiver, http_client).send(alert_message())
    assert (result.outcome, result.status_code) == (outcome, status)


async def test_the_url_token_never_appears_in_results(
    closed_port_url: str, http_client: httpx2.AsyncClient
) -> None:
    channel = ChatWebhookChannel(closed_port_url + "/hooks/SECRET-TOKEN", client=http_client)
    result = await channel.send(alert_message())
    assert result.outcome is Delivery.TRANSIENT
    assert "SECRET-TOKEN" not in result.detail


async def test_unconfigured_or_unreadable_is_permanent(http_client: httpx2.AsyncClient) -> None:
    assert (await ChatWebhookChannel(None).send(alert_message())).outcome is Delivery.PERMANENT
    odd = OutboundMessage(
        id=9, channel="webhook", kind="digest", idempotency_key="k", payload={}, created_at=CREATED
    )
    channel = ChatWebhookChannel("http://127.0.0.1:9/hook", client=http_client)
    assert (await channel.send(odd)).outcome is Delivery.PERMANENT
    assert (await channel.send(alert_message(kind=None))).outcome is Delivery.PERMANENT


async def test_aclose_releases_its_own_client(receiver: Receiver) -> None:
    channel = ChatWebhookChannel(receiver.url("/hooks/chat"), timeout=2)
    assert (await channel.send(signal_message())).outcome is Delivery.DELIVERED
    await channel.aclose()
