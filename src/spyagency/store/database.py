"""Engines for the two supported databases: SQLite (the default, one file) and PostgreSQL.

SQLite is tuned on every new connection because its settings are per connection:

- WAL journal, so readers never block the writer and the writer never blocks readers;
- a busy timeout, so a second writer waits for the lock instead of failing at once;
- foreign keys on (SQLite leaves them off unless asked);
- ``synchronous=NORMAL``: in WAL mode a crash can lose the last commits but never corrupts.

Writes on SQLite start with ``BEGIN IMMEDIATE``: a deferred transaction that reads and then
writes can fail with "database is locked" without waiting, because another writer moved the
snapshot it read. Taking the write lock up front makes such transactions queue instead. Read-only
work can ask for a deferred begin with ``execution_options(sqlite_begin="DEFERRED")``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.pool import ConnectionPoolEntry

SQLITE_BUSY_TIMEOUT_MS = 5000
SQLITE_BEGIN_OPTION = "sqlite_begin"


def default_database_path() -> Path:
    """``$XDG_DATA_HOME/spyagency/spyagency.db``, or ``~/.local/share/spyagency/spyagency.db``."""
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "spyagency" / "spyagency.db"


def default_database_url() -> str:
    """The SQLite file used when no database is configured."""
    return f"sqlite:///{default_database_path()}"


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def build_engine(url: str | URL, *, echo: bool = False) -> Engine:
    """An engine for ``url``: ``sqlite:///path`` or ``postgresql+psycopg://...``.

    Nothing connects until first use. For a SQLite file the parent directory is created.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, echo)
    if backend == "postgresql":
        return create_engine(
            parsed,
            echo=echo,
            # Connections die with server restarts and idle-killing proxies: check before use.
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=10,
            pool_recycle=1800,
        )
    raise ValueError(f"unsupported database {backend!r}: use sqlite:/// or postgresql+psycopg://")


def _sqlite_engine(url: URL, echo: bool) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, pool_pre_ping=False)
    event.listen(engine, "connect", _tune_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _tune_sqlite_connection(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Hand transaction control to SQLAlchemy's "begin" event: the driver's own implicit BEGIN
    # is always DEFERRED and would be emitted before some statements only.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def write_refusal(connection: Connection) -> str | None:
    """Why this database would refuse a write, or None when it would take one.

    Asked without writing: a probe that takes the write lock would queue behind the engine's
    batches on SQLite and turn a health check into a wait. PostgreSQL says so itself (a hot
    standby, or ``default_transaction_read_only``); a SQLite file opened with ``mode=ro``,
    ``query_only``, or whose file or folder the process may not write (permissions, a file
    system remounted read-only) refuses at its first write.
    """
    if connection.dialect.name == "postgresql":
        read_only = connection.exec_driver_sql("SHOW transaction_read_only").scalar()
        return "the database is read-only" if read_only == "on" else None
    if connection.exec_driver_sql("PRAGMA query_only").scalar():
        return "the database connection is query-only"
    url = connection.engine.url
    database = url.database or ""
    if database in ("", ":memory:"):
        return None
    if database.startswith("file:"):
        if url.query.get("mode") == "ro" or "mode=ro" in database:
            return "the database is opened read-only"
        database = database.removeprefix("file:").split("?", 1)[0]
    path = Path(database).expanduser()
    # WAL mode writes beside the file (-wal, -shm): the folder must be writable too.
    for needed in (path, path.parent):
        if needed.exists() and not os.access(needed, os.W_OK):
            return f"the process may not write {needed.name or needed}"
    return None


def _begin_sqlite_transaction(connection: Connection) -> None:
    mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "IMMEDIATE")
    if mode not in ("IMMEDIATE", "DEFERRED", "EXCLUSIVE"):
        raise ValueError(f"unknown SQLite begin mode {mode!r}")
    connection.exec_driver_sql(f"BEGIN {mode}")
