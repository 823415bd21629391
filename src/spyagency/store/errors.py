"""The store's errors that callers tell apart from a bug.

Callers above the store (the web layer) must not import the database toolkit to recognise
them, so the store names them here.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError

# Any error the database driver raised: a bug, unless ``unavailable`` says otherwise.
StoreError = DBAPIError

# SQLSTATE classes of a database that refuses service rather than the statement: a read-only
# transaction (a hot standby, default_transaction_read_only), a lost or refused connection,
# an administrator's shutdown, exhausted resources.
_REFUSING_SQLSTATES = ("25006", "08", "57P", "53")
# SQLite's primary result codes for the same: busy, locked, read-only, I/O error, disk full,
# cannot open. SQLite reports an unknown table as an OperationalError too, so its class alone
# says too little.
_REFUSING_SQLITE_CODES = frozenset({5, 6, 8, 10, 13, 14})


def unavailable(error: BaseException) -> bool:
    """The database refused service or could not be reached (read-only, locked past the busy
    timeout, down, full): nothing is wrong with the request, which may succeed when retried.
    Any other database error is a bug."""
    if not isinstance(error, DBAPIError):
        return False
    code = getattr(error.orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _REFUSING_SQLITE_CODES
    state = getattr(error.orig, "sqlstate", None)
    if isinstance(state, str):
        return state.startswith(_REFUSING_SQLSTATES)
    # No code at all: the driver could not talk to the server (refused, timed out).
    return isinstance(error, OperationalError)


__all__ = ["StoreError", "unavailable"]
