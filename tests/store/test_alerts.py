from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

from sqlalchemy import event

from spyagency.domain.alerting import AlertCandidate, AlertKind, Severity
from spyagency.domain.states import Source
from spyagency.store import Store
from spyagency.store.uow import Transaction

from .builders import at

KEY = "failed:1:PromptCalibProdSiPixelAli"


def open_failed(store: Store, minutes: float, state: str = "timed_out") -> tuple[int, bool]:
    with store.transaction() as tx:
        alert, new = tx.alerts.open_or_touch(
            KEY,
            AlertKind.FAILED,
            Severity.CRITICAL,
            1,
            "PromptCalibProdSiPixelAli",
            None,
            f"SiPixelAli {state}",
            at(minutes),
            state=state,
        )
    return alert.id, new


def test_a_persisting_condition_is_one_alert_touched_each_time(store: Store) -> None:
    first, new = open_failed(store, 0)
    again, new_again = open_failed(store, 5)
    assert new and not new_again and again == first
    with store.read() as tx:
        [alert] = tx.alerts.open_alerts()
    assert alert.opened_at == at(0) and alert.last_seen_at == at(5)
    assert alert.kind == "failed" and alert.severity == "critical" and alert.is_open
    assert alert.opened_at.tzinfo is UTC


def test_resolving_closes_it_and_the_next_occurrence_is_a_new_alert(store: Store) -> None:
    first, _ = open_failed(store, 0)
    with store.transaction() as tx:
        resolved = tx.alerts.resolve(KEY, at(10))
        assert tx.alerts.resolve(KEY, at(11)) is None
    assert resolved is not None and resolved.id == first and resolved.resolved_at == at(10)
    second, new = open_failed(store, 20)
    assert new and second != first
    with store.read() as tx:
        assert [a.id for a in tx.alerts.open_alerts()] == [second]
        assert [a.id for a in tx.alerts.history()] == [second, first]
        assert [a.id for a in tx.alerts.history(before_id=second)] == [first]


def test_an_ack_holds_while_the_state_stays_and_clears_when_it_changes(store: Store) -> None:
    alert_id, _ = open_failed(store, 0, state="timed_out")
    with store.transaction() as tx:
        assert tx.alerts.acknowledge(alert_id, "shifter", at(1))
    open_failed(store, 2, state="timed_out")
    with store.read() as tx:
        acked = tx.alerts.get(alert_id)
    assert acked is not None and acked.acknowledged
    assert (acked.acknowledged_by, acked.acknowledged_state) == ("shifter", "timed_out")
    assert acked.acknowledged_at == at(1)
    open_failed(store, 3, state="upload_failed")
    with store.read() as tx:
        speaking = tx.alerts.get(alert_id)
    assert speaking is not None and not speaking.acknowledged
    assert speaking.message == "SiPixelAli upload_failed"


def test_a_resolved_or_unknown_alert_cannot_be_acknowledged(store: Store) -> None:
    alert_id, _ = open_failed(store, 0)
    with store.transaction() as tx:
        tx.alerts.resolve(KEY, at(1))
        assert not tx.alerts.acknowledge(alert_id, "shifter", at(2))
        assert not tx.alerts.acknowledge(alert_id + 100, "shifter", at(2))


def test_candidates_from_the_domain_rules_open_alerts(store: Store) -> None:
    candidate = AlertCandidate(
        AlertKind.SOURCE_STALE,
        Severity.WARNING,
        "source conddb stale",
        "last error: timeout",
        source=Source.CONDDB,
        state="stale",
    )
    with store.transaction() as tx:
        alert, new = tx.alerts.open_or_touch_candidate(candidate, at(0))
        _, new_again = tx.alerts.open_or_touch_candidate(candidate, at(1))
    assert new and not new_again
    assert alert.dedupe_key == candidate.dedupe_key and alert.source == "conddb"
    assert alert.description == "last error: timeout" and alert.run is None


def _history_with_open_alerts(store: Store) -> tuple[int, int, int]:
    """Twenty resolved alerts of run 1, then open: one of run 1, one of run 2, one of a
    source. Returns their ids."""
    for minute in range(0, 40, 2):
        open_failed(store, minute)
        with store.transaction() as tx:
            tx.alerts.resolve(KEY, at(minute + 1))
    run_1, _ = open_failed(store, 50)
    with store.transaction() as tx:
        run_2, _ = tx.alerts.open_or_touch(
            "missed:2", AlertKind.MISSED, Severity.CRITICAL, 2, None, None, "m", at(51)
        )
        source, _ = tx.alerts.open_or_touch(
            "stale:tier0",
            AlertKind.SOURCE_STALE,
            Severity.WARNING,
            None,
            None,
            "tier0",
            "m",
            at(52),
        )
    return run_1, run_2.id, source.id


def _alert_reads(store: Store, read: Callable[[Transaction], object]) -> list[tuple[str, Any]]:
    """The statements ``read`` sent about alerts, with their parameters."""
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM alert" in statement:
            statements.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        with store.read() as tx:
            read(tx)
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    return statements


def _assert_indexed(store: Store, statements: list[tuple[str, Any]]) -> None:
    # Years of resolved alerts must not slow the reads the engine makes after every batch.
    if store.engine.dialect.name != "sqlite":
        return
    assert statements
    with store.engine.connect() as connection:
        for statement, parameters in statements:
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            assert any("USING INDEX" in str(row) for row in plan.fetchall()), statement


def test_open_alerts_are_found_by_an_index_not_by_scanning_history(store: Store) -> None:
    run_1, run_2, source = _history_with_open_alerts(store)
    with store.read() as tx:
        assert [a.id for a in tx.alerts.open_alerts()] == [run_1, run_2, source]
    _assert_indexed(store, _alert_reads(store, lambda tx: tx.alerts.open_alerts()))


def test_open_alerts_of_runs_leave_out_other_runs_and_sources_unless_asked(
    store: Store,
) -> None:
    run_1, run_2, source = _history_with_open_alerts(store)
    with store.read() as tx:
        assert [a.id for a in tx.alerts.open_alerts_of([1], system=False)] == [run_1]
        assert [a.id for a in tx.alerts.open_alerts_of([2, 3], system=True)] == [run_2, source]
        assert [a.id for a in tx.alerts.open_alerts_of([], system=True)] == [source]
        assert tx.alerts.open_alerts_of([], system=False) == []
    reads = _alert_reads(store, lambda tx: tx.alerts.open_alerts_of([1, 2], system=True))
    _assert_indexed(store, reads)
