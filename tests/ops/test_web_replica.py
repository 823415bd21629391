"""A web replica on PostgreSQL wakes its live streams when another process writes events."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from spyagency.bootstrap import listen_for_changes
from spyagency.store import Store, build_engine, upgrade
from spyagency.web.services import ChangeFeed

pytestmark = pytest.mark.postgres


@dataclass
class Replica:
    changes: ChangeFeed = field(default_factory=ChangeFeed)


async def test_another_process_commit_wakes_the_replicas_streams(postgres_database: str) -> None:
    upgrade(postgres_database)
    writer = Store(build_engine(postgres_database))  # stands for the engine's process
    replica = Replica()
    listening = asyncio.create_task(listen_for_changes(postgres_database, replica))
    try:
        # The listener announces itself once on connecting (catch up): wait for that.
        for _ in range(500):
            if replica.changes.generation >= 1:
                break
            await asyncio.sleep(0.01)
        before = replica.changes.generation
        assert before >= 1
        woken = asyncio.create_task(replica.changes.wait(30))
        await asyncio.sleep(0.05)

        def write() -> None:
            with writer.transaction() as tx:
                tx.events.append(datetime.now(UTC), "verdict", run=7, old="pending", new="ready")

        await asyncio.to_thread(write)
        assert await woken, "woken by the notification, not by the 30 s timeout"
        assert replica.changes.generation == before + 1
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
        writer.dispose()
