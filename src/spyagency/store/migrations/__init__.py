"""Schema migrations, shipped inside the package so no ``alembic.ini`` is needed at run time.

>>> upgrade("sqlite:////tmp/spyagency-doc.db")  # doctest: +SKIP
>>> current_revision("sqlite:////tmp/spyagency-doc.db")  # doctest: +SKIP
'0001'

To write a new revision after changing ``schema.py`` (a developer task)::

    from alembic import command
    with build_engine(url).begin() as connection:
        command.revision(alembic_config(connection), message="...", autogenerate=True,
                         rev_id="0002")
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import as_file, files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL

from spyagency.store.database import build_engine


@contextmanager
def _script_location() -> Iterator[Path]:
    with as_file(files(__name__)) as path:
        yield Path(path)


def alembic_config(connection: Connection, script_location: Path | None = None) -> Config:
    """An in-memory Alembic configuration that runs on ``connection``."""
    config = Config()
    location = script_location or Path(str(files(__name__)))
    config.set_main_option("script_location", str(location))
    config.attributes["connection"] = connection
    return config


@contextmanager
def _engine_for(target: str | URL | Engine) -> Iterator[Engine]:
    if isinstance(target, Engine):
        yield target
        return
    engine = build_engine(target)
    try:
        yield engine
    finally:
        engine.dispose()


def upgrade(target: str | URL | Engine, revision: str = "head") -> None:
    """Bring the database at ``target`` (a URL or an engine) to ``revision``; a no-op when it
    is already there. Runs in one transaction on both backends (their DDL is transactional)."""
    with (
        _engine_for(target) as engine,
        _script_location() as location,
        engine.begin() as connection,
    ):
        command.upgrade(alembic_config(connection, location), revision)


def current_revision(target: str | URL | Engine) -> str | None:
    """The revision the database is at, or None if it was never migrated."""
    with _engine_for(target) as engine, engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest revision shipped with this version of the package."""
    with _script_location() as location:
        config = Config()
        config.set_main_option("script_location", str(location))
        head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found in the package")
    return head
