from __future__ import annotations

from datetime import UTC

from spyagency.domain.states import Verdict
from spyagency.store import Store

from .builders import at


def test_a_decision_is_recorded_once_per_key(store: Store) -> None:
    evidence = {"workflows": {"PromptCalibProdSiPixelAli": "in_db"}}
    with store.transaction() as tx:
        assert tx.signals.record(1, Verdict.READY, "1:ready:v3", at(0), evidence)
        assert not tx.signals.record(1, Verdict.READY, "1:ready:v3", at(1), {})
    with store.read() as tx:
        [signal] = tx.signals.for_run(1)
    assert signal.evidence == evidence and not signal.sent
    assert signal.decided_at == at(0) and signal.decided_at.tzinfo is UTC


def test_ready_after_lists_ready_runs_in_run_order(store: Store) -> None:
    with store.transaction() as tx:
        for run in (30, 10, 20, 40):
            tx.signals.record(run, Verdict.READY, f"{run}:ready", at(run), {})
        tx.signals.record(25, Verdict.BLOCKED, "25:blocked", at(0), {})
    with store.read() as tx:
        assert [s.run for s in tx.signals.ready_after(0)] == [10, 20, 30, 40]
        assert [s.run for s in tx.signals.ready_after(20, limit=1)] == [30]


def test_mark_sent_flips_once(store: Store) -> None:
    with store.transaction() as tx:
        tx.signals.record(1, Verdict.READY, "k", at(0), {})
        assert tx.signals.mark_sent("k")
        assert not tx.signals.mark_sent("k")
        assert not tx.signals.mark_sent("unknown")
        signal = tx.signals.get("k")
    assert signal is not None and signal.sent


def test_all_latest_gives_each_runs_newest_decision_and_their_number(store: Store) -> None:
    with store.transaction() as tx:
        tx.signals.record(2, Verdict.READY, "2-ready-1", at(0), {})
        tx.signals.record(1, Verdict.READY, "1-ready-1", at(1), {})
        tx.signals.record(1, Verdict.BLOCKED, "1-blocked-2", at(2), {})
        tx.signals.mark_sent("1-blocked-2")
    with store.read() as tx:
        latest = tx.signals.all_latest()
    assert [(d.run, d.verdict, d.decisions, d.sent) for d in latest] == [
        (1, Verdict.BLOCKED, 2, True),
        (2, Verdict.READY, 1, False),
    ]
    assert latest[0].decided_at == at(2) and latest[0].idempotency_key == "1-blocked-2"
