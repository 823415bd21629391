"""Change notifications between processes through PostgreSQL LISTEN/NOTIFY.

A transaction that wrote events sends one ``NOTIFY`` carrying the newest event id; the server
delivers it at commit (never for a rolled-back transaction). Listeners treat it as a wake-up
call only and read the events themselves from the event table, so a lost or coalesced
notification costs latency, never data.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import psycopg
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)
CHANNEL = "spyagency_events"


def is_postgresql(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def notify_events_written(connection: Connection) -> None:
    """Inside the writing transaction: announce the newest event id at commit."""
    connection.execute(
        text("SELECT pg_notify(:channel, (SELECT coalesce(max(id), 0) FROM event)::text)"),
        {"channel": CHANNEL},
    )


def libpq_conninfo(url: str) -> str:
    """The libpq form of a SQLAlchemy ``postgresql+psycopg://`` URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen(
    url: str,
    on_change: Callable[[int], Awaitable[None]],
    *,
    retry_seconds: float = 2.0,
    connected: asyncio.Event | None = None,
) -> None:
    """Call ``on_change(event_id)`` for every notification until cancelled.

    Reconnects after any connection error; after a reconnection it calls ``on_change(0)`` once,
    since notifications sent while disconnected are gone (the reader catches up by id).
    """
    conninfo = libpq_conninfo(url)
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                if connected is not None:
                    connected.set()
                await on_change(0)
                async for notification in conn.notifies():
                    payload = notification.payload
                    await on_change(int(payload) if payload.isdigit() else 0)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("change notifications interrupted (%s); retrying", error)
            if connected is not None:
                connected.clear()
        await asyncio.sleep(retry_seconds)
