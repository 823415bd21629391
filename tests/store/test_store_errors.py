"""What the store calls "unavailable" (read-only, unreachable) is what a refused write and an
unreachable server raise, on both backends, so the web layer can answer 503 without knowing the
toolkit; any other database error stays a bug."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from spyagency.domain.facts import RunInfo
from spyagency.domain.observation import Observation
from spyagency.domain.states import Source
from spyagency.store import Store, build_engine, upgrade
from spyagency.store.errors import StoreError, unavailable

from .builders import at

SEEN = Observation(Source.OMS, at(0), RunInfo(1, at(-60), at(0)))


def refusal(store: Store, write: bool = True) -> BaseException:
    try:
        if write:
            with store.transaction() as tx:
                tx.observations.add(SEEN)
        else:
            with store.read() as tx:
                tx.run_lists.first_condition_safe_run()
    except StoreError as error:
        return error
    finally:
        store.dispose()
    raise AssertionError("the store took it")


def test_a_write_to_a_read_only_sqlite_file_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "spyagency.db"
    upgrade(f"sqlite:///{path}")
    store = Store(build_engine(f"sqlite:///file:{path}?mode=ro&uri=true"))
    assert unavailable(refusal(store))


@pytest.mark.postgres
def test_a_write_to_a_read_only_postgresql_is_unavailable(postgres_database: str) -> None:
    upgrade(postgres_database)
    url = make_url(postgres_database).update_query_dict(
        {"options": "-c default_transaction_read_only=on"}
    )
    assert unavailable(refusal(Store(build_engine(url))))


def test_an_unreachable_postgresql_server_is_unavailable() -> None:
    # Port 9 (discard) on the loopback: nothing listens there, so the connection is refused.
    store = Store(build_engine("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2"))
    assert unavailable(refusal(store, write=False))


def test_a_broken_statement_is_a_bug_not_unavailability(tmp_path: Path) -> None:
    path = tmp_path / "spyagency.db"
    upgrade(f"sqlite:///{path}")
    store = Store(build_engine(f"sqlite:///{path}"))
    try:
        with store.transaction() as tx:
            tx.connection.exec_driver_sql("INSERT INTO no_such_table VALUES (1)")
    except StoreError as error:
        # SQLite reports an unknown table as an OperationalError too: the one case where
        # its error class says too little, so the predicate reads the message.
        assert not unavailable(error)
    else:
        raise AssertionError("the statement ran")
    finally:
        store.dispose()
