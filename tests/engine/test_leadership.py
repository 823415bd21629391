"""Leader election and fencing on a real store (SQLite lease; PostgreSQL advisory lock)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from spyagency.engine.leadership import Leadership
from spyagency.store import Store
from spyagency.store.leader import Deposed

HEARTBEAT = timedelta(seconds=1)
T0 = datetime(2026, 11, 28, 12, tzinfo=UTC)


class Wall:
    """A wall clock the test moves."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def write_something(store: Store) -> None:
    with store.transaction() as tx:
        tx.audit.append(T0, "test", "write", "nothing", {"by": "engine"})


ELECTED: list[Leadership] = []


@pytest.fixture
def resign_after() -> Iterator[None]:
    """Lock sessions are held outside the pool: close them before the store's engine goes
    (request this fixture after ``store``, so it is torn down first)."""
    yield
    while ELECTED:
        ELECTED.pop().resign()


def elect(store: Store, holder: str, wall: Wall) -> tuple[Leadership, Store]:
    leadership = Leadership(store, heartbeat=HEARTBEAT, holder=holder, now=wall)
    ELECTED.append(leadership)
    return leadership, store.with_fence(leadership.fence)


def test_one_leads_the_other_stands_by_and_only_the_leader_writes(
    store: Store, resign_after: None
) -> None:
    wall = Wall()
    a, a_store = elect(store, "a", wall)
    b, b_store = elect(store, "b", wall)
    assert a.campaign() and a.epoch == 1
    assert not b.campaign() and b.epoch is None
    write_something(a_store)
    with pytest.raises(Deposed):
        write_something(b_store)
    wall.now += HEARTBEAT
    assert a.campaign() and not b.campaign()
    with store.read() as tx:
        lease = tx.leader.current("engine")
    assert lease is not None and (lease.holder, lease.epoch) == ("a", 1)


def test_fencing_waits_for_the_first_campaign(store: Store, resign_after: None) -> None:
    """A replay drives the evaluator without any election: nothing is refused."""
    never_campaigned, fenced = elect(store, "solo", Wall())
    write_something(fenced)
    assert never_campaigned.epoch is None


def test_a_clean_resignation_hands_over_at_once(store: Store, resign_after: None) -> None:
    wall = Wall()
    a, a_store = elect(store, "a", wall)
    b, _ = elect(store, "b", wall)
    assert a.campaign()
    a.resign()
    assert b.campaign() and b.epoch == 2
    with pytest.raises(Deposed):
        write_something(a_store)


def test_sqlite_lease_passes_on_after_two_missed_heartbeats(
    tmp_path: object, resign_after: None
) -> None:
    from spyagency.store import build_engine, upgrade

    url = f"sqlite:///{tmp_path}/lease.db"
    upgrade(url)
    store = Store(build_engine(url))
    wall = Wall()
    a, a_store = elect(store, "a", wall)
    b, b_store = elect(store, "b", wall)
    assert a.campaign()
    wall.now += HEARTBEAT * 2
    assert not b.campaign(), "a lease exactly two heartbeats old still holds"
    wall.now += HEARTBEAT / 2
    assert b.campaign() and b.epoch == 2
    write_something(b_store)
    # The deposed leader cannot write, and finds out at its next campaign.
    with pytest.raises(Deposed):
        write_something(a_store)
    assert not a.campaign() and a.epoch is None
    store.dispose()


@pytest.mark.postgres
def test_postgres_standby_takes_over_when_the_leaders_session_dies(
    postgres_database: str, resign_after: None
) -> None:
    """The advisory lock goes with its session: no lease has to expire first."""
    from spyagency.store import build_engine, upgrade

    upgrade(postgres_database)
    engine: Engine = build_engine(postgres_database)
    store = Store(engine)
    wall = Wall()
    a, a_store = elect(store, "a", wall)
    b, b_store = elect(store, "b", wall)
    try:
        assert a.campaign() and a.epoch == 1
        # Far past any lease time: a live holder of the lock keeps it all the same.
        wall.now += HEARTBEAT * 100
        assert not b.campaign()
        with engine.connect() as admin:
            killed = admin.execute(
                text(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_locks"
                    " WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
                    " AND database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())"
                )
            ).all()
        assert len(killed) == 1
        assert b.campaign() and b.epoch == 2
        write_something(b_store)
        with pytest.raises(Deposed):
            write_something(a_store)
        assert not a.campaign(), "the old leader's lock session is gone"
        assert b.campaign() and b.epoch == 2
    finally:
        a.resign()
        b.resign()
        engine.dispose()
