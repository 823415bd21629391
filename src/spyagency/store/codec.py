"""Assessments as JSON-able dicts, for the ``run_state.assessment`` column and the API.

The encoding round-trips exactly: ``assessment_from_dict(assessment_to_dict(a)) == a``.
Decoders accept a missing optional key (its domain default), so rows written by an older
version still decode after a field is added.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from spyagency.domain.evidence import Evidence
from spyagency.domain.lifecycle import WorkflowAssessment
from spyagency.domain.overrides import Override, OverrideKind
from spyagency.domain.states import Source, Verdict, WorkflowState
from spyagency.domain.verdict import RunAssessment

JsonDict = dict[str, Any]


def time_to_json(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def time_from_json(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def override_to_dict(override: Override) -> JsonDict:
    return {
        "id": override.id,
        "run": override.run,
        "kind": override.kind.value,
        "workflow": override.workflow,
        "who": override.who,
        "why": override.why,
        "created_at": time_to_json(override.created_at),
        "expires_at": time_to_json(override.expires_at),
        "revoked_at": time_to_json(override.revoked_at),
        # For readers that only show it; ignored when decoding.
        "description": override.describe(),
    }


def override_from_dict(data: JsonDict) -> Override:
    created_at = time_from_json(data["created_at"])
    expires_at = time_from_json(data["expires_at"])
    if created_at is None or expires_at is None:
        raise ValueError("an override needs created_at and expires_at")
    return Override(
        run=int(data["run"]),
        kind=OverrideKind(data["kind"]),
        who=str(data["who"]),
        why=str(data["why"]),
        created_at=created_at,
        expires_at=expires_at,
        workflow=data.get("workflow"),
        revoked_at=time_from_json(data.get("revoked_at")),
        id=data.get("id"),
    )


def workflow_to_dict(workflow: WorkflowAssessment) -> JsonDict:
    return {
        "workflow": workflow.workflow,
        "state": workflow.state.value,
        "evidence": [item.to_dict() for item in workflow.evidence],
        "counted": workflow.counted,
        "optional": workflow.optional,
        "ignored_by": workflow.ignored_by,
        "proven_at": time_to_json(workflow.proven_at),
        "deadline": time_to_json(workflow.deadline),
        "streams": list(workflow.streams),
        "unknown_producer": workflow.unknown_producer,
    }


def workflow_from_dict(data: JsonDict) -> WorkflowAssessment:
    return WorkflowAssessment(
        workflow=str(data["workflow"]),
        state=WorkflowState(data["state"]),
        evidence=tuple(Evidence.from_dict(item) for item in data.get("evidence", ())),
        counted=bool(data.get("counted", True)),
        optional=bool(data.get("optional", False)),
        ignored_by=data.get("ignored_by"),
        proven_at=time_from_json(data.get("proven_at")),
        deadline=time_from_json(data.get("deadline")),
        streams=tuple(str(stream) for stream in data.get("streams", ())),
        unknown_producer=bool(data.get("unknown_producer", False)),
    )


def assessment_to_dict(assessment: RunAssessment) -> JsonDict:
    return {
        "run": assessment.run,
        "verdict": assessment.verdict.value,
        "automatic_verdict": assessment.automatic_verdict.value,
        "reasons": list(assessment.reasons),
        "workflows": [workflow_to_dict(w) for w in assessment.workflows],
        "overrides": [override_to_dict(o) for o in assessment.overrides],
        "stop": time_to_json(assessment.stop),
        "lock_in_at": time_to_json(assessment.lock_in_at),
        "locked_at": time_to_json(assessment.locked_at),
        "released_at": time_to_json(assessment.released_at),
        "proof_complete_at": time_to_json(assessment.proof_complete_at),
        "stale_sources": [source.value for source in assessment.stale_sources],
    }


def assessment_from_dict(data: JsonDict) -> RunAssessment:
    return RunAssessment(
        run=int(data["run"]),
        verdict=Verdict(data["verdict"]),
        automatic_verdict=Verdict(data["automatic_verdict"]),
        reasons=tuple(str(reason) for reason in data.get("reasons", ())),
        workflows=tuple(workflow_from_dict(w) for w in data.get("workflows", ())),
        overrides=tuple(override_from_dict(o) for o in data.get("overrides", ())),
        stop=time_from_json(data.get("stop")),
        lock_in_at=time_from_json(data.get("lock_in_at")),
        locked_at=time_from_json(data.get("locked_at")),
        released_at=time_from_json(data.get("released_at")),
        proof_complete_at=time_from_json(data.get("proof_complete_at")),
        stale_sources=tuple(Source(source) for source in data.get("stale_sources", ())),
    )
