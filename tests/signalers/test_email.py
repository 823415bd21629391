"""E-mail through a real SMTP server (aiosmtpd) that accepts, refuses or stalls."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from spyagency.signalers.channel import Channel, Delivery
from spyagency.signalers.email import EmailChannel
from tests.signalers.conftest import SMTP_PASSWORD, SMTP_USER, SmtpServer, free_port
from tests.signalers.messages import alert_message, signal_message

OPS = ["ops@cern.test", "pcl@cern.test"]


def channel_for(smtp: SmtpServer, **kwargs: object) -> EmailChannel:
    settings: dict[str, object] = {
        "sender": "spyagency@cern.test",
        "recipients": OPS,
        "timeout": 2.0,
        "local_hostname": "agency.test",
    }
    settings.update(kwargs)
    return EmailChannel(smtp.host, smtp.port, **settings)  # type: ignore[arg-type]


def parsed(content: bytes) -> EmailMessage:
    mail = message_from_bytes(content, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


async def test_an_alert_is_mailed_to_every_operator(smtp_server: SmtpServer) -> None:
    channel: Channel = channel_for(smtp_server)
    result = await channel.send(alert_message())

    assert result.outcome is Delivery.DELIVERED
    (received,) = smtp_server.sink.messages
    assert received.sender == "spyagency@cern.test"
    assert received.recipients == OPS
    mail = parsed(received.content)
    assert mail["Subject"] == "[spyagency] critical Run 362000 stuck in harvesting"
    assert mail["To"] == ", ".join(OPS)
    body = mail.get_content()
    assert "The harvesting job has run for 7 h; the budget is 6 h." in body
    assert "362000" in body
    assert "SiStripGains" in body
    assert "https://agency.test/runs/362000" in body


async def test_a_resolved_alert_says_so(smtp_server: SmtpServer) -> None:
    message = alert_message(state="resolved", resolved_at="2026-11-02T11:00:00+00:00")
    await channel_for(smtp_server).send(message)
    mail = parsed(smtp_server.sink.messages[0].content)
    assert mail["Subject"] == "[spyagency] resolved Run 362000 stuck in harvesting"
    assert "resolved: 2026-11-02T11:00:00+00:00" in mail.get_content()


async def test_a_readiness_signal_is_mailed(smtp_server: SmtpServer) -> None:
    result = await channel_for(smtp_server).send(signal_message(362004))
    assert result.outcome is Delivery.DELIVERED
    mail = parsed(smtp_server.sink.messages[0].content)
    assert mail["Subject"] == "[spyagency] run 362004 ready"
    assert "https://agency.test/runs/362004" in mail.get_content()


async def test_the_message_id_follows_the_idempotency_key(smtp_server: SmtpServer) -> None:
    channel = channel_for(smtp_server)
    await channel.send(signal_message(1))
    await channel.send(signal_message(1))
    await channel.send(signal_message(2))
    ids = [parsed(m.content)["Message-ID"] for m in smtp_server.sink.messages]
    assert ids[0] == ids[1] != ids[2]


async def test_a_multiline_summary_stays_one_subject_line(smtp_server: SmtpServer) -> None:
    await channel_for(smtp_server).send(alert_message(summary="Run 1\r\nBcc: evil@x.test"))
    mail = parsed(smtp_server.sink.messages[0].content)
    assert mail["Subject"] == "[spyagency] critical Run 1 Bcc: evil@x.test"
    assert mail["Bcc"] is None


async def test_a_refused_recipient_is_permanent(smtp_server: SmtpServer) -> None:
    smtp_server.sink.refuse = {"ops@cern.test": "550 5.1.1 no such mailbox"}
    result = await channel_for(smtp_server, recipients=["ops@cern.test"]).send(alert_message())
    assert result.outcome is Delivery.PERMANENT
    assert "550" in result.detail
    assert smtp_server.sink.messages == []


async def test_a_greylisted_recipient_is_transient(smtp_server: SmtpServer) -> None:
    smtp_server.sink.refuse = {"ops@cern.test": "450 4.7.1 greylisted, come back later"}
    result = await channel_for(smtp_server, recipients=["ops@cern.test"]).send(alert_message())
    assert result.outcome is Delivery.TRANSIENT


async def test_one_refusal_among_several_recipients_still_delivers(smtp_server: SmtpServer) -> None:
    smtp_server.sink.refuse = {"pcl@cern.test": "550 5.1.1 no such mailbox"}
    result = await channel_for(smtp_server).send(alert_message())
    assert result.outcome is Delivery.DELIVERED
    assert set(result.extra["refused"]) == {"pcl@cern.test"}
    assert smtp_server.sink.messages[0].recipients == ["ops@cern.test"]


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        ("451 4.3.0 mail server temporarily full", Delivery.TRANSIENT),
        ("554 5.6.0 message refused", Delivery.PERMANENT),
    ],
)
async def test_data_replies_are_classified(
    smtp_server: SmtpServer, reply: str, outcome: Delivery
) -> None:
    smtp_server.sink.data_reply = reply
    result = await channel_for(smtp_server).send(alert_message())
    assert result.outcome is outcome
    assert result.extra["smtp_code"] == int(reply[:3])


async def test_a_stalled_server_is_transient(smtp_server: SmtpServer) -> None:
    smtp_server.sink.data_delay = 1.5
    result = await channel_for(smtp_server, timeout=0.3).send(alert_message())
    assert result.outcome is Delivery.TRANSIENT


async def test_connection_refused_is_transient() -> None:
    channel = EmailChannel("127.0.0.1", free_port(), sender="a@b.test", recipients=OPS, timeout=2.0)
    result = await channel.send(alert_message())
    assert result.outcome is Delivery.TRANSIENT


async def test_login(smtp_server: SmtpServer) -> None:
    channel = channel_for(smtp_server, username=SMTP_USER, password=SMTP_PASSWORD)
    assert (await channel.send(alert_message())).outcome is Delivery.DELIVERED


async def test_a_wrong_password_is_permanent(smtp_server: SmtpServer) -> None:
    channel = channel_for(smtp_server, username=SMTP_USER, password="wrong")
    result = await channel.send(alert_message())
    assert result.outcome is Delivery.PERMANENT
    assert "535" in result.detail


async def test_starttls_on_a_server_without_it_is_permanent(smtp_server: SmtpServer) -> None:
    result = await channel_for(smtp_server, starttls=True).send(alert_message())
    assert result.outcome is Delivery.PERMANENT
    assert "STARTTLS" in result.detail


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"host": None}, "host"),
        ({"sender": None}, "sender"),
        ({"recipients": []}, "recipients"),
        ({"username": "pcl"}, "username and password"),
        ({"starttls": True, "use_tls": True}, "STARTTLS or implicit TLS"),
    ],
)
async def test_missing_configuration_is_permanent(
    settings: dict[str, object], fragment: str
) -> None:
    options: dict[str, object] = {"sender": "a@b.test", "recipients": OPS}
    host = settings.pop("host", "127.0.0.1")
    options.update(settings)
    result = await EmailChannel(host, 25, **options).send(alert_message())  # type: ignore[arg-type]
    assert result.outcome is Delivery.PERMANENT
    assert fragment in result.detail


async def test_an_unreadable_payload_is_permanent(smtp_server: SmtpServer) -> None:
    result = await channel_for(smtp_server).send(alert_message(summary=None))
    assert result.outcome is Delivery.PERMANENT
    assert smtp_server.sink.messages == []
