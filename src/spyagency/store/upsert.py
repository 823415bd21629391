"""``INSERT ... ON CONFLICT`` for the two backends, which spell it alike but need their own
insert construct. Used where two writers may race to create the same row: the database,
not a read-then-write in Python, decides who wins."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def _insert(connection: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    name = connection.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for the {name} dialect")


def insert_or_ignore(
    connection: Connection,
    table: Table,
    values: Mapping[str, Any],
    conflict_columns: Sequence[str],
) -> bool:
    """Insert one row unless it conflicts on ``conflict_columns``; True if it was inserted."""
    statement = _insert(connection, table).values(dict(values))
    statement = statement.on_conflict_do_nothing(index_elements=list(conflict_columns))
    # RETURNING yields the row only if it was inserted; rowcount is not reliable here (psycopg
    # reports -1 once SQLAlchemy has fetched the implicitly returned primary key).
    returning = statement.returning(*(table.c[name] for name in conflict_columns))
    return connection.execute(returning).first() is not None


def upsert(
    connection: Connection,
    table: Table,
    values: Mapping[str, Any],
    conflict_columns: Sequence[str],
) -> None:
    """Insert one row, or overwrite every other column of the row it conflicts with."""
    upsert_many(connection, table, [values], conflict_columns)


def upsert_many(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    conflict_columns: Sequence[str],
) -> None:
    """``upsert`` for rows with the same columns, in one statement (an executemany)."""
    if not rows:
        return
    insert = _insert(connection, table)
    updates = {k: insert.excluded[k] for k in rows[0] if k not in conflict_columns}
    statement = insert.on_conflict_do_update(index_elements=list(conflict_columns), set_=updates)
    connection.execute(statement, [dict(row) for row in rows])


def upsert_adding(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    conflict_columns: Sequence[str],
) -> None:
    """Insert rows of counters, or add their counters to the row each conflicts with: the sum
    is done in SQL, so two writers counting at once both count."""
    if not rows:
        return
    insert = _insert(connection, table)
    updates = {k: table.c[k] + insert.excluded[k] for k in rows[0] if k not in conflict_columns}
    statement = insert.on_conflict_do_update(index_elements=list(conflict_columns), set_=updates)
    connection.execute(statement, [dict(row) for row in rows])
