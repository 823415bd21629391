from __future__ import annotations

from datetime import UTC, timedelta

from spyagency.store import Store

from .builders import at

TTL = timedelta(seconds=30)


def test_the_first_holder_gets_epoch_one_and_others_wait(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.leader.try_acquire("engine", "a", at(0), TTL) == 1
        assert tx.leader.try_acquire("engine", "b", at(0.1), TTL) is None
        assert tx.leader.try_acquire("engine", "a", at(0.2), TTL) == 1
        assert tx.leader.try_acquire("web", "b", at(0.2), TTL) == 1
        lease = tx.leader.current("engine")
    assert lease is not None and lease.holder == "a" and lease.heartbeat_at.tzinfo is UTC


def test_an_expired_lease_passes_on_with_a_higher_epoch(store: Store) -> None:
    with store.transaction() as tx:
        tx.leader.try_acquire("engine", "a", at(0), TTL)
        assert tx.leader.heartbeat("engine", "a", 1, at(0.4))
        assert tx.leader.try_acquire("engine", "b", at(0.8), TTL) is None
        assert tx.leader.try_acquire("engine", "b", at(1.0), TTL) == 2
        # The deposed holder finds out at its next heartbeat and cannot take it back.
        assert not tx.leader.heartbeat("engine", "a", 1, at(1.1))
        assert tx.leader.try_acquire("engine", "a", at(1.1), TTL) is None
        assert tx.leader.heartbeat("engine", "b", 2, at(1.1))
        assert not tx.leader.heartbeat("engine", "b", 1, at(1.1))


def test_a_released_lease_is_taken_at_once_with_a_new_epoch(store: Store) -> None:
    with store.transaction() as tx:
        tx.leader.try_acquire("engine", "a", at(0), TTL)
        assert not tx.leader.release("engine", "a", 7)
        assert tx.leader.release("engine", "a", 1)
        assert tx.leader.try_acquire("engine", "b", at(0.1), TTL) == 2
        assert tx.leader.current("missing") is None


def test_take_over_always_wins_with_the_next_epoch(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.leader.take_over("engine", "a", at(0)) == 1
        assert tx.leader.take_over("engine", "b", at(0.1)) == 2
        assert tx.leader.holds("engine", "b", 2)
        assert not tx.leader.holds("engine", "a", 1)
        assert not tx.leader.holds("engine", "b", 1)
        assert not tx.leader.holds("missing", "b", 2)
