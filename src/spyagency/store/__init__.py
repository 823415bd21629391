"""Persistence: SQLite by default, PostgreSQL in production, one schema, Alembic migrations.

Typical wiring (done once, in ``bootstrap``)::

    url = settings.database_url or default_database_url()
    upgrade(url)
    store = Store(build_engine(url))
    with store.transaction() as tx:
        tx.observations.add_many(observations)
"""

from __future__ import annotations

from spyagency.store.database import build_engine, default_database_url
from spyagency.store.migrations import current_revision, head_revision, upgrade
from spyagency.store.uow import Store, Transaction

__all__ = [
    "Store",
    "Transaction",
    "build_engine",
    "current_revision",
    "default_database_url",
    "head_revision",
    "upgrade",
]
