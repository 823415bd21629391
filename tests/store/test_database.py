from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from spyagency.domain.states import Verdict, WorkflowState
from spyagency.store import Store, build_engine, default_database_url
from spyagency.store.schema import audit_log, workflow_state

from .builders import assessment, at


def test_the_default_database_lives_in_the_xdg_data_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_database_url() == f"sqlite:///{tmp_path}/data/spyagency/spyagency.db"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_database_url() == f"sqlite:///{tmp_path}/.local/share/spyagency/spyagency.db"


def test_sqlite_is_tuned_on_every_connection_and_its_directory_made(tmp_path: Path) -> None:
    engine = build_engine(f"sqlite:///{tmp_path}/deep/er/agency.db")
    try:
        # Two connections open at once are two DBAPI connections; reads must not take the
        # write lock, or the second would wait for the first.
        first, second = (
            engine.connect().execution_options(sqlite_begin="DEFERRED") for _ in range(2)
        )
        for connection in (first, second):
            pragmas = [
                connection.execute(text(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
            ]
            assert pragmas == ["wal", 5000, 1, 1]
        first.close()
        second.close()
    finally:
        engine.dispose()
    assert (tmp_path / "deep" / "er" / "agency.db").exists()


def test_unsupported_databases_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database"):
        build_engine("mysql://localhost/agency")


def test_foreign_keys_are_enforced(store: Store) -> None:
    orphan = {
        "run": 1,
        "workflow": "w",
        "state": "harvesting",
        "state_since": at(0),
        "evidence": [],
        "counted": True,
        "optional": False,
        "updated_at": at(0),
    }
    with pytest.raises(IntegrityError), store.transaction() as tx:
        tx.connection.execute(insert(workflow_state).values(orphan))


def test_naive_datetimes_are_refused(store: Store) -> None:
    naive = datetime(2026, 1, 1)  # naive on purpose
    with pytest.raises(StatementError, match="naive datetime"), store.transaction() as tx:
        tx.audit.append(naive, "a", "b", "c")


def test_times_in_other_zones_are_stored_as_the_same_instant_in_utc(store: Store) -> None:
    from datetime import timedelta, timezone

    geneva_summer = datetime(2026, 6, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    with store.transaction() as tx:
        tx.audit.append(geneva_summer, "a", "b", "c")
    with store.read() as tx:
        stored = tx.connection.execute(select(audit_log.c.at)).scalar_one()
        later = tx.connection.execute(
            select(audit_log.c.id).where(audit_log.c.at > datetime(2026, 6, 1, 7, 59, tzinfo=UTC))
        ).all()
    assert stored == datetime(2026, 6, 1, 8, 0, tzinfo=UTC) and stored.tzinfo is UTC
    assert len(later) == 1


def test_concurrent_writers_queue_instead_of_failing(store: Store) -> None:
    errors: list[BaseException] = []

    def writer(first_run: int) -> None:
        try:
            for step in range(15):
                state = WorkflowState.HARVESTING if step % 2 else WorkflowState.HARVESTED
                with store.transaction() as tx:
                    # Read, then write, in one transaction: the pattern that SQLite's deferred
                    # transactions turn into "database is locked".
                    tx.states.get_run(first_run)
                    tx.states.save_run(assessment(first_run, Verdict.PENDING, w=state), at(step))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(run,)) for run in (1, 2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with store.read() as tx:
        assert [r.version for r in tx.states.list_runs()] == [15, 15, 15]
