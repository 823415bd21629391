from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from spyagency.domain.states import Verdict, WorkflowState
from spyagency.store import Store
from spyagency.store.run_records import SavedRun, WorkflowChange
from spyagency.store.run_states import ConcurrentUpdateError

from .builders import assessment, at

PIXEL = "PromptCalibProdSiPixelAli"
STRIP = "PromptCalibProdSiStrip"
H = WorkflowState.HARVESTING
IN_DB = WorkflowState.IN_DB


def test_the_first_save_records_the_verdict_and_every_workflow(store: Store) -> None:
    with store.transaction() as tx:
        change = tx.states.save_run(assessment(1, **{PIXEL: H, STRIP: H}), at(0))
    assert change.changed and change.verdict_changed and change.version == 1
    assert change.old_verdict is None and change.new_verdict is Verdict.PENDING
    assert set(change.workflow_changes) == {
        WorkflowChange(PIXEL, None, H),
        WorkflowChange(STRIP, None, H),
    }
    with store.read() as tx:
        events = tx.events.for_run(1)
        record = tx.states.get_run(1)
    assert [(e.kind, e.workflow, e.old, e.new) for e in events] == [
        ("verdict", None, None, "pending"),
        ("workflow_state", PIXEL, None, "harvesting"),
        ("workflow_state", STRIP, None, "harvesting"),
    ]
    assert record is not None
    assert record.assessment == assessment(1, **{PIXEL: H, STRIP: H})
    assert record.verdict_since == at(0) and record.version == 1
    assert [w.workflow for w in record.workflows] == [PIXEL, STRIP]


def test_saving_the_same_assessment_again_changes_nothing(store: Store) -> None:
    same = assessment(1, **{PIXEL: H})
    with store.transaction() as tx:
        tx.states.save_run(same, at(0))
    with store.transaction() as tx:
        change = tx.states.save_run(same, at(5))
    assert not change.changed and not change.verdict_changed
    assert change.workflow_changes == () and change.version == 1
    with store.read() as tx:
        record = tx.states.get_run(1)
        assert len(tx.events.for_run(1)) == 2
    assert record is not None and record.updated_at == at(0)


def test_a_workflow_change_keeps_the_verdict_since_and_moves_its_own(store: Store) -> None:
    with store.transaction() as tx:
        tx.states.save_run(assessment(1, **{PIXEL: H, STRIP: H}), at(0))
    with store.transaction() as tx:
        change = tx.states.save_run(assessment(1, **{PIXEL: IN_DB, STRIP: H}), at(10))
    assert change.changed and not change.verdict_changed and change.version == 2
    assert change.workflow_changes == (WorkflowChange(PIXEL, H, IN_DB),)
    with store.read() as tx:
        record = tx.states.get_run(1)
        latest = tx.events.for_run(1)[-1]
    assert record is not None
    assert record.verdict_since == at(0) and record.updated_at == at(10)
    pixel, strip = record.workflow(PIXEL), record.workflow(STRIP)
    assert pixel is not None and strip is not None
    assert pixel.state is IN_DB and pixel.state_since == at(10)
    assert strip.state_since == at(0)
    assert (latest.workflow, latest.old, latest.new) == (PIXEL, "harvesting", "in_db")
    assert latest.detail["evidence"][0]["what"] == f"{PIXEL} is in_db"


def test_a_verdict_change_is_an_event_and_moves_verdict_since(store: Store) -> None:
    with store.transaction() as tx:
        tx.states.save_run(assessment(1, **{PIXEL: IN_DB}), at(0))
    ready = assessment(
        1, Verdict.READY, ("all 1 required calibration(s) proven",), **{PIXEL: IN_DB}
    )
    with store.transaction() as tx:
        change = tx.states.save_run(ready, at(20))
    assert change.old_verdict is Verdict.PENDING and change.new_verdict is Verdict.READY
    assert change.workflow_changes == ()
    with store.read() as tx:
        record = tx.states.get_run(1)
        events = tx.events.for_run(1)
    assert record is not None and record.verdict_since == at(20) and record.version == 2
    assert (events[-1].kind, events[-1].old, events[-1].new) == ("verdict", "pending", "ready")
    assert events[-1].detail["reasons"] == ["all 1 required calibration(s) proven"]


def test_evidence_only_changes_bump_the_version_but_write_no_event(store: Store) -> None:
    first = assessment(1, **{PIXEL: H})
    reworded = replace(first, reasons=("waiting for: SiPixelAli harvesting",))
    with store.transaction() as tx:
        tx.states.save_run(first, at(0))
    with store.transaction() as tx:
        change = tx.states.save_run(reworded, at(1))
    assert change.changed and change.version == 2 and change.workflow_changes == ()
    with store.read() as tx:
        assert len(tx.events.for_run(1)) == 2
        record = tx.states.get_run(1)
    assert record is not None and record.etag == '"1-2"'
    assert record.assessment.reasons == ("waiting for: SiPixelAli harvesting",)


def test_a_workflow_that_disappears_is_removed_with_an_event(store: Store) -> None:
    with store.transaction() as tx:
        tx.states.save_run(assessment(1, **{PIXEL: H, STRIP: H}), at(0))
    with store.transaction() as tx:
        change = tx.states.save_run(assessment(1, **{PIXEL: H}), at(1))
    assert change.workflow_changes == (WorkflowChange(STRIP, H, None),)
    with store.read() as tx:
        record = tx.states.get_run(1)
    assert record is not None and [w.workflow for w in record.workflows] == [PIXEL]


def test_list_runs_pages_newest_first_with_filters(store: Store) -> None:
    with store.transaction() as tx:
        for run in range(100, 125):
            verdict = Verdict.READY if run % 2 else Verdict.PENDING
            tx.states.save_run(assessment(run, verdict, **{PIXEL: H}), at(run))
    with store.read() as tx:
        first = tx.states.list_runs(limit=10)
        second = tx.states.list_runs(limit=10, before_run=first[-1].run)
        third = tx.states.list_runs(limit=10, before_run=second[-1].run)
        ready = tx.states.list_runs(verdict=Verdict.READY, run_min=110, run_max=119)
        assert tx.states.get_run(99) is None
    assert [r.run for r in first] == list(range(124, 114, -1))
    assert [r.run for r in second] == list(range(114, 104, -1))
    assert [r.run for r in third] == list(range(104, 99, -1))
    assert [r.run for r in ready] == [119, 117, 115, 113, 111]
    assert all(r.workflow(PIXEL) is not None for r in first)


def test_list_runs_without_a_limit_returns_every_run_with_its_workflows(store: Store) -> None:
    # More runs than one IN list carries, to cover the chunked workflow lookup.
    with store.transaction() as tx:
        for run in range(1, 1202):
            tx.states.save_run(assessment(run, Verdict.PENDING, w=H), at(0))
    with store.read() as tx:
        everything = tx.states.list_runs(limit=None)
    assert [r.run for r in everything] == list(range(1201, 0, -1))
    assert all(len(r.workflows) == 1 for r in everything)


def test_open_runs_and_counts(store: Store) -> None:
    verdicts = [Verdict.PENDING, Verdict.READY, Verdict.RELEASED, Verdict.MISSED, Verdict.READY]
    with store.transaction() as tx:
        for run, verdict in enumerate(verdicts, start=1):
            states = {PIXEL: IN_DB if verdict is not Verdict.PENDING else H, STRIP: IN_DB}
            tx.states.save_run(assessment(run, verdict, **states), at(0))
    with store.read() as tx:
        assert tx.states.open_runs() == [1, 2, 5]
        counts = tx.states.counts_by_verdict()
        by_state = tx.states.counts_by_workflow_state()
        open_by_state = tx.states.counts_by_workflow_state(open_only=True)
    assert counts[Verdict.READY] == 2 and counts[Verdict.BLOCKED] == 0
    assert sum(counts.values()) == 5
    assert by_state == {(PIXEL, H): 1, (PIXEL, IN_DB): 4, (STRIP, IN_DB): 5}
    assert open_by_state == {(PIXEL, H): 1, (PIXEL, IN_DB): 2, (STRIP, IN_DB): 3}


def test_workflow_history_lists_the_workflow_run_after_run(store: Store) -> None:
    with store.transaction() as tx:
        for run in range(1, 6):
            tx.states.save_run(assessment(run, **{PIXEL: H if run % 2 else IN_DB}), at(run))
    with store.read() as tx:
        history = tx.states.workflow_history(PIXEL, limit=3)
        rest = tx.states.workflow_history(PIXEL, before_run=history[-1].run)
        assert tx.states.workflow_history("nothing") == []
    assert [(w.run, w.state) for w in history] == [(5, H), (4, IN_DB), (3, H)]
    assert [w.run for w in rest] == [2, 1]
    assert all(w.state_since.tzinfo is UTC and w.deadline is not None for w in history)


def test_a_rolled_back_save_leaves_no_state_and_no_event(store: Store) -> None:
    try:
        with store.transaction() as tx:
            tx.states.save_run(assessment(1, **{PIXEL: H}), at(0))
            raise RuntimeError("the engine crashed mid-pass")
    except RuntimeError:
        pass
    with store.read() as tx:
        assert tx.states.get_run(1) is None
        assert tx.events.latest_id() == 0


def test_summaries_match_the_full_records(store: Store) -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    with store.transaction() as tx:
        for run in (10, 11, 12):
            tx.states.save_run(assessment(run, Verdict.READY, w=WorkflowState.IN_DB), now)
    with store.read() as tx:
        full = tx.states.list_runs(limit=2, before_run=12)
        light = tx.states.list_summaries(limit=2, before_run=12)
    assert [s.run for s in light] == [r.run for r in full] == [11, 10]
    for summary, record in zip(light, full, strict=True):
        assert summary.verdict is record.assessment.verdict
        assert summary.reasons == record.assessment.reasons
        assert summary.stop == record.assessment.stop
        assert summary.etag == record.etag


def test_start_up_reads_verdicts_and_open_states_without_assessments(store: Store) -> None:
    verdicts = [Verdict.PENDING, Verdict.RELEASED, Verdict.READY]
    with store.transaction() as tx:
        for run, verdict in enumerate(verdicts, start=1):
            tx.states.save_run(assessment(run, verdict, **{PIXEL: H, STRIP: IN_DB}), at(run))
        tx.states.save_run(assessment(3, Verdict.READY, **{PIXEL: IN_DB, STRIP: IN_DB}), at(9))
    with store.read() as tx:
        assert tx.states.verdicts() == dict(enumerate(verdicts, start=1))
        since = tx.states.open_states_since()
    assert since == {
        1: {PIXEL: at(1), STRIP: at(1)},
        3: {PIXEL: at(9), STRIP: at(3)},
    }, "final runs are left out; a state change moves its own time only"


def test_saving_after_what_was_saved_last_equals_reading_it_back(store: Store) -> None:
    """The engine saves with its memory of the last save (nothing is read back): the stored
    run, its workflows, the events and the changes reported are the same as the saver that
    reads the run back first. Run 1 is saved one way, run 2 the other, same assessments."""
    steps = [
        assessment(0, **{PIXEL: H, STRIP: H}),
        assessment(0, **{PIXEL: H, STRIP: H}),  # unchanged
        assessment(0, **{PIXEL: IN_DB, STRIP: H}),  # one workflow moves
        replace(assessment(0, **{PIXEL: IN_DB, STRIP: H}), reasons=("reworded",)),
        assessment(0, Verdict.READY, ("proven",), **{PIXEL: IN_DB, STRIP: IN_DB}),
        assessment(0, Verdict.READY, ("proven",), **{PIXEL: IN_DB}),  # one disappears
    ]
    previous: SavedRun | None = None
    for minute, step in enumerate(steps):
        with store.transaction() as tx:
            read_back = tx.states.save_run(replace(step, run=1), at(minute))
            remembered = tx.states.save_run(replace(step, run=2), at(minute), previous)
        previous = SavedRun(replace(step, run=2), remembered.version)
        assert replace(remembered, run=1) == read_back
    with store.read() as tx:
        one, two = tx.states.get_run(1), tx.states.get_run(2)
        events = [tx.events.for_run(1), tx.events.for_run(2)]
    assert one is not None and two is not None
    workflows = tuple(replace(w, run=1) for w in two.workflows)
    assert replace(two, assessment=one.assessment, workflows=workflows) == one
    assert two.assessment == replace(one.assessment, run=2)
    strip = [(e.kind, e.workflow, e.old, e.new, e.at, e.detail) for e in events[0]]
    assert [(e.kind, e.workflow, e.old, e.new, e.at, e.detail) for e in events[1]] == strip


def test_a_save_after_a_stale_memory_is_refused(store: Store) -> None:
    first = assessment(1, **{PIXEL: H})
    with store.transaction() as tx:
        saved = tx.states.save_run(first, at(0))
    with store.transaction() as tx:
        tx.states.save_run(assessment(1, **{PIXEL: IN_DB}), at(1))  # another writer
    with pytest.raises(ConcurrentUpdateError), store.transaction() as tx:
        stale = SavedRun(first, saved.version)
        tx.states.save_run(assessment(1, Verdict.READY, **{PIXEL: IN_DB}), at(2), stale)
