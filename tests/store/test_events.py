from __future__ import annotations

from datetime import UTC

from spyagency.store import Store
from spyagency.store.events import EventKind, NewEvent

from .builders import at


def test_a_stream_resumes_after_the_last_id_it_saw(store: Store) -> None:
    with store.read() as tx:
        assert tx.events.latest_id() == 0
    with store.transaction() as tx:
        first = tx.events.append(at(0), EventKind.OVERRIDE, run=1, new="hold", detail={"who": "x"})
        tx.events.append_many(
            [NewEvent(at(1), EventKind.SIGNAL, run=2, new="ready"), NewEvent(at(2), "alert")]
        )
    with store.read() as tx:
        everything = tx.events.since(0)
        missed = tx.events.since(first)
        page = tx.events.since(0, limit=1)
        latest = tx.events.latest_id()
    assert [e.kind for e in everything] == ["override", "signal", "alert"]
    assert [e.id for e in missed] == [e.id for e in everything[1:]]
    assert [e.id for e in page] == [first] and latest == everything[-1].id
    assert everything[0].detail == {"who": "x"} and everything[2].run is None
    assert all(e.at.tzinfo is UTC for e in everything)


def test_for_run_is_the_runs_history_in_order(store: Store) -> None:
    with store.transaction() as tx:
        for minute, run in enumerate([1, 2, 1, 1]):
            tx.events.append(at(minute), EventKind.VERDICT, run=run, new=str(minute))
    with store.read() as tx:
        assert [e.new for e in tx.events.for_run(1)] == ["0", "2", "3"]
        assert tx.events.for_run(3) == []
