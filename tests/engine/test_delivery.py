"""The outbox dispatcher delivering to real local receivers: a Tier-0 webhook that checks the
HMAC, an Alertmanager v2 endpoint, and an SMTP server."""

from __future__ import annotations

from datetime import timedelta

import pytest

from spyagency.domain.clock import ManualClock
from spyagency.domain.states import UploadOutcome
from spyagency.engine.delivery import Dispatcher
from spyagency.engine.evaluator import Evaluator
from spyagency.signalers.alertmanager import AlertmanagerChannel
from spyagency.signalers.email import EmailChannel
from spyagency.signalers.tier0_webhook import ReadinessWebhook
from spyagency.store.outbox import OutboxStatus
from spyagency.store.uow import Store
from tests.engine.conftest import SIGNAL_CHANNEL
from tests.engine.test_evaluator import GAINS, feed, gains_run
from tests.signalers.conftest import WEBHOOK_SECRET, Receiver, SmtpServer


def dispatcher(
    store: Store, clock: ManualClock, receiver: Receiver, switch: list[bool]
) -> Dispatcher:
    webhook = ReadinessWebhook(receiver.url("/tier0/readiness"), WEBHOOK_SECRET, timeout=2.0)
    return Dispatcher(
        store,
        {SIGNAL_CHANNEL: webhook},
        clock,
        worker="test",
        max_attempts=3,
        signals_enabled=lambda: switch[0],
    )


def statuses(store: Store) -> list[str]:
    with store.read() as tx:
        return [m.status.value for m in tx.outbox.list(None, 100) if m.kind == "signal"]


async def test_signals_reach_the_tier0_signed_and_in_run_order(
    evaluator: Evaluator, store: Store, clock: ManualClock, receiver: Receiver
) -> None:
    for run in (380102, 380100, 380101):
        feed(evaluator, gains_run(run, proven=True))
    evaluator.tick()
    switch = [False]
    sender = dispatcher(store, clock, receiver, switch)
    assert await sender.dispatch_once() == 0, "kill switch on: nothing leaves"
    assert receiver.accepted == []

    switch[0] = True
    clock.advance(timedelta(seconds=2))  # held messages are looked at again a second later
    assert await sender.dispatch_once() == 3
    runs = [r.json["run"] for r in receiver.accepted]
    assert runs == [380100, 380101, 380102]
    keys = [r.headers["idempotency-key"] for r in receiver.accepted]
    assert len(set(keys)) == 3
    assert statuses(store) == ["delivered"] * 3
    with store.read() as tx:
        assert all(s.sent for s in tx.signals.for_run(380100))
    await sender.aclose()


async def test_transient_failures_retry_and_permanent_ones_stop(
    evaluator: Evaluator, store: Store, clock: ManualClock, receiver: Receiver
) -> None:
    feed(evaluator, gains_run(380100, proven=True))
    evaluator.tick()
    sender = dispatcher(store, clock, receiver, [True])
    receiver.answer(503)
    assert await sender.dispatch_once() == 0
    assert statuses(store) == ["failed"]
    assert await sender.dispatch_once() == 0, "not due before its backoff"
    clock.advance(timedelta(minutes=1))
    receiver.answer(400)
    await sender.dispatch_once()
    assert statuses(store) == [OutboxStatus.DEAD.value]
    await sender.aclose()


@pytest.mark.timeout(60)
async def test_alerts_reach_alertmanager_and_a_real_smtp_server(
    evaluator: Evaluator,
    store: Store,
    clock: ManualClock,
    receiver: Receiver,
    smtp_server: SmtpServer,
) -> None:
    story = gains_run(380100, proven=False)
    story.at(3).harvested(*GAINS).marker(*GAINS)
    story.upload(GAINS[0], GAINS[1][0], UploadOutcome.ERROR, info="ORA-01017: invalid login")
    feed(evaluator, story)
    evaluator.tick()
    channels = {
        "alertmanager": AlertmanagerChannel(receiver.base_url, timeout=2.0),
        "email": EmailChannel(
            smtp_server.host,
            smtp_server.port,
            sender="spyagency@test",
            recipients=["pcl-experts@test"],
            timeout=5.0,
        ),
    }
    sender = Dispatcher(store, channels, clock, worker="test")
    delivered = await sender.dispatch_once()
    await sender.aclose()
    assert delivered >= 2
    posted = [r for r in receiver.accepted if r.path == "/api/v2/alerts"]
    labels = [alert["labels"] for r in posted for alert in r.json]
    assert any(
        lab["alertname"].startswith("SpyAgency") and lab.get("run") == "380100" for lab in labels
    )
    mails = smtp_server.sink.messages
    assert mails and mails[0].recipients == ["pcl-experts@test"]
    assert b"380100" in mails[0].content and b"ORA-01017" in mails[0].content
