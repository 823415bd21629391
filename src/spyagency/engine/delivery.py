"""Delivering outbox messages through their channels, at least once, in order for signals.

``Dispatcher.dispatch_once`` for each channel:

1. claims due messages under a lease (a dispatcher that dies leaves them to the next);
2. for a signal: skips it while the kill switch is on; marks it dead as ``superseded`` when the
   run's current verdict is no longer the one announced; waits while a lower run's signal on the
   same channel is undelivered (the Tier-0 locks in run order); respects the rate limit;
3. sends it; a delivery is recorded, a transient failure is retried with exponential backoff up
   to ``max_attempts``, a permanent one is dead at once (an operator sees it on the page).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta

from spyagency.domain.clock import Clock
from spyagency.domain.states import Verdict
from spyagency.engine.metrics import EngineMetrics
from spyagency.signalers.channel import Channel, Delivery, DeliveryResult, OutboundMessage
from spyagency.signalers.ratelimit import TokenBucket
from spyagency.store.outbox import OutboxMessage
from spyagency.store.uow import Store

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=2)


def backoff(attempts: int, base_seconds: float = 5.0, cap_seconds: float = 3600.0) -> timedelta:
    return timedelta(seconds=min(cap_seconds, base_seconds * 2 ** max(0, attempts - 1)))


class Dispatcher:
    def __init__(
        self,
        store: Store,
        channels: Mapping[str, Channel],
        clock: Clock,
        *,
        worker: str,
        max_attempts: int = 10,
        signals_enabled: Callable[[], bool] = lambda: True,
        current_verdict: Callable[[int], Verdict | None] = lambda run: None,
        signal_rate: TokenBucket | None = None,
        metrics: EngineMetrics | None = None,
    ) -> None:
        self.store = store
        self.channels = dict(channels)
        self.clock = clock
        self.worker = worker
        self.max_attempts = max_attempts
        self.signals_enabled = signals_enabled
        self.current_verdict = current_verdict
        self.signal_rate = signal_rate
        self.metrics = metrics

    async def aclose(self) -> None:
        for channel in self.channels.values():
            await channel.aclose()

    async def dispatch_once(self) -> int:
        delivered = 0
        for name, channel in self.channels.items():
            with self.store.transaction() as tx:
                claimed = tx.outbox.claim(name, self.worker, self.clock.now(), LEASE, limit=20)
            for index, message in enumerate(claimed):
                if await self._deliver(channel, message):
                    delivered += 1
                elif message.kind == "signal":
                    # Keep run order: nothing after a signal that did not go out. Hand the
                    # rest back at once rather than let their leases run out.
                    self._hand_back(claimed[index + 1 :])
                    break
        return delivered

    async def _deliver(self, channel: Channel, message: OutboxMessage) -> bool:
        if message.kind == "signal":
            hold = self._signal_hold(message)
            if hold is not None:
                self._release(message, hold)
                return False
        outbound = OutboundMessage(
            id=message.id,
            channel=message.channel,
            kind=message.kind,
            idempotency_key=message.idempotency_key,
            payload=message.payload,
            created_at=message.created_at,
            run=message.run,
            attempts=message.attempts,
        )
        result = await channel.send(outbound)
        self._record(message, result)
        if result.outcome is not Delivery.DELIVERED:
            log.warning(
                "delivery on %s failed (%s): %s",
                message.channel,
                result.outcome.value,
                result.detail,
                extra={"run": message.run, "channel": message.channel},
            )
        elif message.kind == "signal":
            log.info(
                "run %s: %s signal delivered on %s",
                message.run,
                message.payload.get("verdict"),
                message.channel,
                extra={"run": message.run, "channel": message.channel},
            )
        return result.outcome is Delivery.DELIVERED

    def _signal_hold(self, message: OutboxMessage) -> str | None:
        """Why this signal must not go out now (None: it may)."""
        if not self.signals_enabled():
            return "kill switch on"
        run = message.run
        announced = message.payload.get("verdict")
        if run is not None:
            current = self.current_verdict(run)
            if current is not None and current.value != announced and not current.is_final:
                return "superseded"
        with self.store.transaction() as tx:
            if run is not None and tx.outbox.undelivered_before(message.channel, run, message.id):
                return "waiting for a lower run's signal"
        if self.signal_rate is not None and not self.signal_rate.try_acquire():
            return "rate limit"
        return None

    def _hand_back(self, messages: list[OutboxMessage]) -> None:
        with self.store.transaction() as tx:
            for message in messages:
                tx.outbox.release(message.id, self.worker, message.next_attempt_at, "run order")

    def _release(self, message: OutboxMessage, reason: str) -> None:
        now = self.clock.now()
        with self.store.transaction() as tx:
            if reason == "superseded":
                tx.outbox.mark_failed(message.id, now, "superseded by a newer verdict", None)
            else:
                tx.outbox.release(message.id, self.worker, now + timedelta(seconds=1), reason)

    def _record(self, message: OutboxMessage, result: DeliveryResult) -> None:
        now = self.clock.now()
        if self.metrics is not None:
            latency = (now - message.created_at).total_seconds()
            self.metrics.observe_delivery(
                message.channel, message.kind, result.outcome.value, latency
            )
        with self.store.transaction() as tx:
            if result.outcome is Delivery.DELIVERED:
                tx.outbox.mark_delivered(message.id, now, self.worker)
                if message.kind == "signal":
                    tx.signals.mark_sent(message.idempotency_key)
                return
            attempts = message.attempts + 1
            permanent = result.outcome is Delivery.PERMANENT or attempts >= self.max_attempts
            retry_at = None if permanent else now + backoff(attempts)
            tx.outbox.mark_failed(message.id, now, result.detail or result.outcome.value, retry_at)
