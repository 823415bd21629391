"""Store records -> API schemas, shared by the resources that show the same things."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from spyagency.domain.evidence import Evidence
from spyagency.store.events import Event as StoredEvent
from spyagency.store.overrides import OverrideRecord
from spyagency.store.run_records import RunRecord, RunSummary, WorkflowRecord
from spyagency.web.schemas import overrides as override_schemas
from spyagency.web.schemas import runs as run_schemas


def evidence(item: Evidence) -> run_schemas.Evidence:
    return run_schemas.Evidence(source=item.source, what=item.what, at=item.at, ref=item.ref)


def workflow(record: WorkflowRecord) -> run_schemas.Workflow:
    return run_schemas.Workflow(
        workflow=record.workflow,
        state=record.state,
        state_since=record.state_since,
        evidence=[evidence(item) for item in record.evidence],
        proven_at=record.proven_at,
        deadline=record.deadline,
        counted=record.counted,
        optional=record.optional,
        ignored_by=record.ignored_by,
    )


def override(record: OverrideRecord, now: datetime) -> override_schemas.Override:
    item = record.override
    return override_schemas.Override(
        id=item.id or 0,
        run=item.run,
        kind=item.kind,
        workflow=item.workflow,
        who=item.who,
        why=item.why,
        created_at=item.created_at,
        expires_at=item.expires_at,
        revoked_at=item.revoked_at,
        revoked_by=record.revoked_by,
        active=item.active(now),
        description=item.describe(),
    )


def _summary_fields(record: RunSummary) -> dict[str, Any]:
    """The fields a run summary and a run detail share, in one place."""
    return {
        "run": record.run,
        "verdict": record.verdict,
        "automatic_verdict": record.automatic_verdict,
        "reasons": list(record.reasons),
        "verdict_since": record.verdict_since,
        "stop": record.stop,
        "lock_in_at": record.lock_in_at,
        "released_at": record.released_at,
        "proof_complete_at": record.proof_complete_at,
        "overridden": record.overridden,
        "updated_at": record.updated_at,
    }


def run_summary(record: RunSummary) -> run_schemas.RunSummary:
    return run_schemas.RunSummary(**_summary_fields(record))


def run_detail(
    record: RunRecord, overrides: list[OverrideRecord], now: datetime
) -> run_schemas.RunDetail:
    summary = record.summary
    shown = [override(item, now) for item in overrides]
    return run_schemas.RunDetail(
        **_summary_fields(summary),
        version=record.version,
        locked_at=summary.locked_at,
        stale_sources=list(record.assessment.stale_sources),
        workflows=[workflow(item) for item in record.workflows],
        overrides=[item for item in shown if item.active],
        override_history=shown,
    )


def event(item: StoredEvent) -> run_schemas.Event:
    return run_schemas.Event(
        id=item.id,
        at=item.at,
        run=item.run,
        workflow=item.workflow,
        kind=item.kind,
        old=item.old,
        new=item.new,
        detail=item.detail,
    )
