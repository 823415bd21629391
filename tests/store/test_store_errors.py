"""The error the store names for "unavailable or read-only" is what a refused write and an
unreachable server raise, so the web layer can answer 503 without knowing the toolkit."""

from __future__ import annotations

from pathlib import Path

import pytest

from spyagency.domain.facts import RunInfo
from spyagency.domain.observation import Observation
from spyagency.domain.states import Source
from spyagency.store import Store, build_engine, upgrade
from spyagency.store.errors import StoreUnavailableError

from .builders import at


def test_a_write_to_a_read_only_sqlite_file_is_store_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "spyagency.db"
    upgrade(f"sqlite:///{path}")
    store = Store(build_engine(f"sqlite:///file:{path}?mode=ro&uri=true"))
    seen = Observation(Source.OMS, at(0), RunInfo(1, at(-60), at(0)))
    try:
        with pytest.raises(StoreUnavailableError), store.transaction() as tx:
            tx.observations.add(seen)
    finally:
        store.dispose()


def test_an_unreachable_postgresql_server_is_store_unavailable() -> None:
    # Port 9 (discard) on the loopback: nothing listens there, so the connection is refused.
    store = Store(build_engine("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2"))
    try:
        with pytest.raises(StoreUnavailableError), store.read() as tx:
            tx.run_lists.first_condition_safe_run()
    finally:
        store.dispose()
