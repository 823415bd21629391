"""A run's page lists every alert ever raised about the run, open or resolved."""

from __future__ import annotations

from spyagency.domain.alerting import AlertKind, Severity
from spyagency.store import Store
from spyagency.store.uow import Transaction

from .builders import at


def raise_alert(tx: Transaction, key: str, run: int | None, minutes: float) -> int:
    alert, _ = tx.alerts.open_or_touch(
        key, AlertKind.FAILED, Severity.CRITICAL, run, None, None, key, at(minutes)
    )
    return alert.id


def test_a_runs_alerts_are_its_own_open_and_resolved_newest_first(store: Store) -> None:
    with store.transaction() as tx:
        resolved = raise_alert(tx, "failed:1:a", 1, 0)
        tx.alerts.resolve("failed:1:a", at(5))
        raise_alert(tx, "failed:2:a", 2, 6)
        raise_alert(tx, "stale:tier0", None, 7)
        still_open = raise_alert(tx, "failed:1:b", 1, 8)
    with store.read() as tx:
        found = tx.alerts.for_run(1)
        assert tx.alerts.for_run(3) == []
    assert [(alert.id, alert.is_open) for alert in found] == [(still_open, True), (resolved, False)]
