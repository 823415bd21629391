from __future__ import annotations

import threading
import time
from datetime import UTC, timedelta

from spyagency.store import Store
from spyagency.store.outbox import OutboxStatus

from .builders import at

LEASE = timedelta(minutes=5)
WEBHOOK = "tier0_webhook"


def enqueue_signals(store: Store, runs: list[int], minutes: float = 0) -> None:
    with store.transaction() as tx:
        for run in runs:
            tx.outbox.enqueue(WEBHOOK, "signal", run, f"ready-{run}", {"run": run}, at(minutes))


def test_the_same_key_twice_is_one_row(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.outbox.enqueue(WEBHOOK, "signal", 1, "ready-1", {"run": 1}, at(0))
        assert not tx.outbox.enqueue(WEBHOOK, "signal", 1, "ready-1", {"run": 1, "x": 2}, at(1))
        # The key is unique per channel: another channel may use it.
        assert tx.outbox.enqueue("email", "signal", 1, "ready-1", {"run": 1}, at(0))
    with store.transaction() as tx:
        assert not tx.outbox.enqueue(WEBHOOK, "signal", 1, "ready-1", {}, at(2))
        assert tx.outbox.pending_count() == 2
        assert tx.outbox.pending_count(WEBHOOK) == 1
        [row] = tx.outbox.list(channel=WEBHOOK)
    assert row.payload == {"run": 1} and row.status is OutboxStatus.PENDING
    assert row.created_at.tzinfo is UTC and row.attempts == 0


def test_signals_are_claimed_in_run_order_and_others_in_id_order(store: Store) -> None:
    enqueue_signals(store, [5, 3, 4])
    with store.transaction() as tx:
        tx.outbox.enqueue(WEBHOOK, "alert", None, "alert-b", {}, at(0))
        tx.outbox.enqueue(WEBHOOK, "alert", 1, "alert-a", {}, at(0))
    with store.transaction() as tx:
        claimed = tx.outbox.claim(WEBHOOK, "w1", at(1), LEASE, limit=10)
    assert [(m.kind, m.idempotency_key) for m in claimed] == [
        ("signal", "ready-3"),
        ("signal", "ready-4"),
        ("signal", "ready-5"),
        ("alert", "alert-b"),
        ("alert", "alert-a"),
    ]
    assert all(m.claimed_by == "w1" and m.claimed_until == at(1) + LEASE for m in claimed)


def test_a_claim_is_a_lease_that_runs_out(store: Store) -> None:
    enqueue_signals(store, [1, 2])
    with store.transaction() as tx:
        first = tx.outbox.claim(WEBHOOK, "w1", at(1), LEASE, limit=1)
        assert [m.run for m in first] == [1]
        assert [m.run for m in tx.outbox.claim(WEBHOOK, "w2", at(2), LEASE)] == [2]
        assert tx.outbox.claim(WEBHOOK, "w3", at(3), LEASE) == []
        # w1 died: after its lease, its message goes to someone else.
        expired = tx.outbox.claim(WEBHOOK, "w3", at(1) + LEASE + timedelta(seconds=1), LEASE)
        assert [m.run for m in expired] == [1]
        assert not tx.outbox.mark_delivered(first[0].id, at(7), worker="w1")
        assert tx.outbox.mark_delivered(first[0].id, at(7), worker="w3")
        delivered = tx.outbox.get(first[0].id)
    assert delivered is not None and delivered.status is OutboxStatus.DELIVERED
    assert delivered.delivered_at == at(7) and delivered.claimed_by is None
    assert delivered.attempts == 1


def test_messages_not_yet_due_are_not_claimed(store: Store) -> None:
    enqueue_signals(store, [1], minutes=10)
    with store.transaction() as tx:
        assert tx.outbox.claim(WEBHOOK, "w", at(9), LEASE) == []
        assert len(tx.outbox.claim(WEBHOOK, "w", at(10), LEASE)) == 1
        assert tx.outbox.claim("email", "w", at(10) + LEASE * 2, LEASE) == []


def test_failures_retry_later_or_die(store: Store) -> None:
    enqueue_signals(store, [1, 2])
    with store.transaction() as tx:
        one, two = tx.outbox.claim(WEBHOOK, "w", at(0), LEASE)
        assert tx.outbox.mark_failed(one.id, at(1), "HTTP 503", retry_at=at(30))
        assert tx.outbox.mark_failed(two.id, at(1), "HTTP 400: bad payload", retry_at=None)
        assert tx.outbox.pending_count() == 1
        assert tx.outbox.claim(WEBHOOK, "w", at(29), LEASE) == []
        [again] = tx.outbox.claim(WEBHOOK, "w", at(30), LEASE)
        dead = tx.outbox.list(OutboxStatus.DEAD)
        assert not tx.outbox.mark_delivered(two.id, at(31))
    assert again.id == one.id and again.status is OutboxStatus.FAILED
    assert again.attempts == 1 and again.last_error == "HTTP 503"
    assert [m.id for m in dead] == [two.id] and dead[0].last_error == "HTTP 400: bad payload"


def test_dry_run_messages_are_recorded_but_never_claimed(store: Store) -> None:
    with store.transaction() as tx:
        tx.outbox.enqueue(WEBHOOK, "signal", 1, "k", {}, at(0), dry_run=True)
        assert tx.outbox.claim(WEBHOOK, "w", at(1), LEASE) == []
        assert tx.outbox.pending_count() == 0
        assert [m.status for m in tx.outbox.list()] == [OutboxStatus.DRY_RUN]


def test_concurrent_claimers_never_get_the_same_message(store: Store) -> None:
    runs = list(range(1, 121))
    enqueue_signals(store, runs)
    claimed: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    errors: list[BaseException] = []
    start = threading.Barrier(len(claimed))

    def claimer(worker: str) -> None:
        try:
            start.wait()
            while True:
                with store.transaction() as tx:
                    batch = tx.outbox.claim(WEBHOOK, worker, at(1), LEASE, limit=4)
                    # Hold the transaction open so the claimers overlap for real.
                    time.sleep(0.002)
                if not batch:
                    return
                claimed[worker].extend(m.run or 0 for m in batch)
                # "Deliver" outside the transaction, as a sender does; without a pause SQLite's
                # busy handler lets the last writer win the lock again and again.
                time.sleep(0.002)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=claimer, args=(worker,)) for worker in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    everything = [run for runs_of_worker in claimed.values() for run in runs_of_worker]
    assert sorted(everything) == runs, "a message was claimed twice or not at all"
    assert sum(1 for batch in claimed.values() if batch) >= 2, "no real contention happened"


def test_a_released_message_counts_no_attempt_and_is_due_again_later(store: Store) -> None:
    enqueue_signals(store, [1])
    with store.transaction() as tx:
        [message] = tx.outbox.claim(WEBHOOK, "w", at(0), LEASE)
        assert not tx.outbox.release(message.id, "other", at(5), "rate limit")
        assert tx.outbox.release(message.id, "w", at(5), "rate limit")
        assert tx.outbox.claim(WEBHOOK, "w", at(4), LEASE) == []
        [again] = tx.outbox.claim(WEBHOOK, "w", at(5), LEASE)
    assert again.id == message.id and again.attempts == 0
    assert again.status is OutboxStatus.PENDING and again.last_error == "rate limit"


def test_a_signal_waits_for_undelivered_signals_of_lower_runs(store: Store) -> None:
    enqueue_signals(store, [10, 11])
    with store.transaction() as tx:
        tx.outbox.enqueue(WEBHOOK, "alert", 5, "alert-5", {}, at(0))
        ten, eleven = tx.outbox.claim(WEBHOOK, "w", at(0), LEASE, limit=2)
        assert not tx.outbox.undelivered_before(WEBHOOK, 10, ten.id)
        assert tx.outbox.undelivered_before(WEBHOOK, 11, eleven.id)
        assert not tx.outbox.undelivered_before("email", 11, eleven.id)
        tx.outbox.mark_delivered(ten.id, at(1))
        assert not tx.outbox.undelivered_before(WEBHOOK, 11, eleven.id)
        # A newer decision about the same run waits for the older one.
        tx.outbox.enqueue(WEBHOOK, "signal", 11, "ready-11-again", {}, at(2))
        newest = max(m.id for m in tx.outbox.list(channel=WEBHOOK))
        assert tx.outbox.undelivered_before(WEBHOOK, 11, newest)
