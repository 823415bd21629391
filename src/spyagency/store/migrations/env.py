"""Alembic environment: migrations always run on a connection handed over by
``spyagency.store.migrations`` (see ``alembic_config``), never from an ini file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from spyagency.store.schema import metadata


def run_on(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: later migrations copy-and-move tables instead.
        render_as_batch=sqlite,
        # SQLite does roll back DDL inside a transaction; Alembic assumes it does not.
        transactional_ddl=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "run migrations through spyagency.store.migrations.upgrade(url), "
            "which passes a connection"
        )
    run_on(connection)


main()
