from __future__ import annotations

from datetime import UTC

from spyagency.store import Store

from .builders import at


def test_entries_append_and_list_newest_first_with_paging(store: Store) -> None:
    with store.transaction() as tx:
        ids = [
            tx.audit.append(at(i), "alice", "override.add", f"run {i}", {"n": i}) for i in range(5)
        ]
        tx.audit.append(at(9), "bob", "kill_switch.on", "agency")
    with store.read() as tx:
        first = tx.audit.list(limit=3)
        rest = tx.audit.list(limit=3, before_id=first[-1].id)
    assert [e.target for e in first] == ["agency", "run 4", "run 3"]
    assert [e.id for e in rest] == [ids[2], ids[1], ids[0]]
    assert first[0].detail == {} and rest[0].detail == {"n": 2}
    assert all(e.at.tzinfo is UTC for e in first + rest)
