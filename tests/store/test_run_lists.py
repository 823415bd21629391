"""What run lists show beside each run's summary: workflow cells, the first condition-safe
run, and the fingerprint that says when to render them again."""

from __future__ import annotations

from dataclasses import replace

from spyagency.domain.states import Verdict, WorkflowState
from spyagency.store import Store
from spyagency.store.run_lists import WorkflowSummary

from .builders import assessment, at

PIXEL = "PromptCalibProdSiPixelAli"
STRIP = "PromptCalibProdSiStrip"
H = WorkflowState.HARVESTING
IN_DB = WorkflowState.IN_DB


def test_workflow_summaries_are_the_stored_states_per_run(store: Store) -> None:
    first = assessment(1, **{PIXEL: H, STRIP: IN_DB})
    ignored = replace(first.workflows[1], optional=True, ignored_by="expert", counted=False)
    with store.transaction() as tx:
        tx.states.save_run(replace(first, workflows=(first.workflows[0], ignored)), at(5))
        tx.states.save_run(assessment(2), at(5))
        tx.states.save_run(assessment(3, **{PIXEL: IN_DB}), at(7))
    with store.read() as tx:
        found = tx.run_lists.workflow_summaries([1, 2, 3, 4])
    assert found == {
        1: {
            PIXEL: WorkflowSummary(H, at(5), counted=True, optional=False, ignored_by=None),
            STRIP: WorkflowSummary(IN_DB, at(5), counted=False, optional=True, ignored_by="expert"),
        },
        3: {PIXEL: WorkflowSummary(IN_DB, at(7), counted=True, optional=False, ignored_by=None)},
    }


def test_the_first_condition_safe_run_is_the_lowest_open_and_unlocked_run(store: Store) -> None:
    with store.read() as tx:
        assert tx.run_lists.first_condition_safe_run() is None
    with store.transaction() as tx:
        tx.states.save_run(assessment(1, Verdict.RELEASED), at(0))
        tx.states.save_run(replace(assessment(2), locked_at=at(1)), at(0))
        tx.states.save_run(assessment(4, Verdict.MISSED), at(0))
        tx.states.save_run(assessment(5), at(0))
        tx.states.save_run(assessment(6, Verdict.READY), at(0))
    with store.read() as tx:
        assert tx.run_lists.first_condition_safe_run() == 5


def test_the_fingerprint_moves_with_a_new_run_or_a_change_and_only_then(store: Store) -> None:
    def fingerprint() -> object:
        with store.read() as tx:
            return tx.run_lists.fingerprint()

    empty = fingerprint()
    with store.transaction() as tx:
        tx.states.save_run(assessment(1, **{PIXEL: H}), at(0))
    one_run = fingerprint()
    with store.transaction() as tx:
        tx.states.save_run(assessment(1, **{PIXEL: H}), at(1))
    assert fingerprint() == one_run != empty
    with store.transaction() as tx:
        tx.states.save_run(assessment(1, Verdict.READY, (), **{PIXEL: IN_DB}), at(2))
    assert fingerprint() != one_run
