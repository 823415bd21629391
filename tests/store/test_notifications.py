"""LISTEN/NOTIFY between processes' stores: a commit that wrote events wakes listeners with
the newest event id; a rollback or a transaction without events wakes nobody."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import pytest

from spyagency.store import Store, build_engine, upgrade
from spyagency.store.notifications import libpq_conninfo, listen

pytestmark = pytest.mark.postgres
AT = datetime(2026, 11, 28, tzinfo=UTC)


def test_the_libpq_form_drops_the_driver_name() -> None:
    url = "postgresql+psycopg://agency:s3cret@db.example:5433/spy"
    assert libpq_conninfo(url) == "postgresql://agency:s3cret@db.example:5433/spy"


async def test_listeners_hear_committed_events_only(postgres_database: str) -> None:
    upgrade(postgres_database)
    store = Store(build_engine(postgres_database))
    heard: asyncio.Queue[int] = asyncio.Queue()
    connected = asyncio.Event()

    async def on_change(event_id: int) -> None:
        await heard.put(event_id)

    listener = asyncio.create_task(listen(postgres_database, on_change, connected=connected))
    try:
        await asyncio.wait_for(connected.wait(), 10)
        assert await asyncio.wait_for(heard.get(), 5) == 0, "a (re)connection says: catch up"

        def write(rollback: bool, with_event: bool = True) -> None:
            with contextlib.suppress(RuntimeError), store.transaction() as tx:
                if with_event:
                    tx.events.append(AT, "verdict", run=1, old="pending", new="ready")
                tx.audit.append(AT, "test", "write", "run 1")
                if rollback:
                    raise RuntimeError("roll back")

        await asyncio.to_thread(write, True)
        await asyncio.to_thread(write, False, False)
        await asyncio.to_thread(write, False)
        first = await asyncio.wait_for(heard.get(), 5)
        with store.read() as tx:
            newest = tx.events.latest_id()
        assert first == newest and heard.empty()
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        store.dispose()
