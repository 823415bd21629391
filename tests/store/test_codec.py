from __future__ import annotations

import json

from spyagency.domain.evidence import Evidence
from spyagency.domain.lifecycle import WorkflowAssessment
from spyagency.domain.overrides import OverrideKind
from spyagency.domain.states import Source, Verdict, WorkflowState
from spyagency.domain.verdict import RunAssessment
from spyagency.store.codec import (
    assessment_from_dict,
    assessment_to_dict,
    override_from_dict,
    override_to_dict,
    workflow_from_dict,
    workflow_to_dict,
)

from .builders import T0, at, override


def full_assessment() -> RunAssessment:
    forced = override(380100, OverrideKind.FORCE_READY, created=-10, expires=600)
    ignored = override(380100, OverrideKind.IGNORE_WORKFLOW, workflow="PromptCalibProdSiStrip")
    return RunAssessment(
        run=380100,
        verdict=Verdict.READY,
        automatic_verdict=Verdict.BLOCKED,
        reasons=("override: force_ready", "needs an expert: SiPixelAli timed_out"),
        workflows=(
            WorkflowAssessment(
                "PromptCalibProdSiPixelAli",
                WorkflowState.TIMED_OUT,
                (Evidence(None, "still harvesting"), Evidence(Source.WMSTATS, "job paused", T0)),
                deadline=at(600),
                streams=("Express", "ExpressAlignment"),
            ),
            WorkflowAssessment(
                "PromptCalibProdSiStrip",
                WorkflowState.IN_DB,
                (Evidence(Source.CONDDB, "tag X: IOV since 380100", at(5), ref="conddb:X:1"),),
                counted=True,
                optional=True,
                ignored_by=ignored.describe(),
                proven_at=at(5),
            ),
            WorkflowAssessment(
                "PromptCalibProdEcalPedestals", WorkflowState.NOT_EXPECTED, counted=False
            ),
        ),
        overrides=(forced, ignored),
        stop=T0,
        lock_in_at=at(2880),
        locked_at=at(2900),
        released_at=None,
        proof_complete_at=at(5),
        stale_sources=(Source.CONDDB, Source.DQM),
    )


def test_an_assessment_round_trips_exactly_through_json_text() -> None:
    original = full_assessment()
    text = json.dumps(assessment_to_dict(original))
    assert assessment_from_dict(json.loads(text)) == original


def test_workflows_and_overrides_round_trip_on_their_own() -> None:
    original = full_assessment()
    for item in original.workflows:
        assert workflow_from_dict(workflow_to_dict(item)) == item
    for given in original.overrides:
        assert override_from_dict(override_to_dict(given)) == given


def test_overrides_carry_a_readable_description_for_the_api() -> None:
    item = override(1, OverrideKind.HOLD)
    assert override_to_dict(item)["description"] == item.describe()


def test_optional_keys_missing_from_older_rows_take_their_defaults() -> None:
    minimal = {"run": 7, "verdict": "pending", "automatic_verdict": "pending"}
    decoded = assessment_from_dict(minimal)
    assert decoded == RunAssessment(7, Verdict.PENDING, Verdict.PENDING, (), ())
    assert workflow_from_dict({"workflow": "w", "state": "harvesting"}) == WorkflowAssessment(
        "w", WorkflowState.HARVESTING
    )
