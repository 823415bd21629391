"""The store's errors that callers tell apart from a bug.

Callers above the store (the web layer) must not import the database toolkit to recognise
them, so the store names them here.
"""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

# The database refused the statement or could not be reached: it is read-only, locked past the
# busy timeout, or down. Nothing is wrong with the request, which may succeed when retried.
StoreUnavailableError = OperationalError

__all__ = ["StoreUnavailableError"]
