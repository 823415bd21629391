"""A web replica on PostgreSQL wakes its live streams when another process writes events."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from spyagency.serving import listen_for_changes
from spyagency.store import Store, build_engine, upgrade
from spyagency.web.services import ChangeFeed

pytestmark = pytest.mark.postgres


class RecordedFeed(ChangeFeed):
    """The replica's change feed, recording each notification as it happens, so the test waits
    for notifications instead of polling the generation counter or sleeping."""

    def __init__(self) -> None:
        super().__init__()
        self.notifications: asyncio.Queue[int] = asyncio.Queue()

    async def notify(self) -> None:
        await super().notify()
        self.notifications.put_nowait(self.generation)


@dataclass
class Replica:
    changes: RecordedFeed = field(default_factory=RecordedFeed)


# Only against a hang: the awaited notification normally comes within milliseconds.
HANG_GUARD_SECONDS = 30


async def test_another_process_commit_wakes_the_replicas_streams(postgres_database: str) -> None:
    upgrade(postgres_database)
    writer = Store(build_engine(postgres_database))  # stands for the engine's process
    replica = Replica()
    notifications = replica.changes.notifications
    listening = asyncio.create_task(listen_for_changes(postgres_database, replica))
    try:
        # The listener announces itself once it listens (a catch-up): from then on it hears.
        caught_up = await asyncio.wait_for(notifications.get(), HANG_GUARD_SECONDS)
        assert notifications.empty()

        def write() -> None:
            with writer.transaction() as tx:
                tx.events.append(datetime.now(UTC), "verdict", run=7, old="pending", new="ready")

        await asyncio.to_thread(write)
        woken = await asyncio.wait_for(notifications.get(), HANG_GUARD_SECONDS)
        assert woken == caught_up + 1 == replica.changes.generation
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
        writer.dispose()
