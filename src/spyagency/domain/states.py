"""The public vocabulary: API, pages and alerts use exactly these words."""

from __future__ import annotations

from enum import StrEnum


class WorkflowState(StrEnum):
    """Where one calibration workflow of one run stands."""

    NOT_EXPECTED = "not_expected"
    WAITING_EXPRESS = "waiting_express"
    HARVESTING = "harvesting"
    NO_PAYLOAD = "no_payload"
    HARVESTED = "harvested"
    UPLOAD_ATTEMPTED = "upload_attempted"
    IN_DB = "in_db"
    QUALITY_FAILED = "quality_failed"
    REJECTED_LATE = "rejected_late"
    UPLOAD_FAILED = "upload_failed"
    TIMED_OUT = "timed_out"
    UNKNOWN = "unknown"

    @property
    def is_satisfied(self) -> bool:
        """Proven done: the run may go ahead as far as this workflow is concerned."""
        return self in SATISFIED_STATES

    @property
    def is_failure(self) -> bool:
        """Needs an expert before the Tier-0 lock-in."""
        return self in FAILURE_STATES


SATISFIED_STATES = frozenset({WorkflowState.IN_DB, WorkflowState.NO_PAYLOAD})
FAILURE_STATES = frozenset(
    {
        WorkflowState.QUALITY_FAILED,
        WorkflowState.REJECTED_LATE,
        WorkflowState.UPLOAD_FAILED,
        WorkflowState.TIMED_OUT,
    }
)
IN_PROGRESS_STATES = frozenset(
    {
        WorkflowState.WAITING_EXPRESS,
        WorkflowState.HARVESTING,
        WorkflowState.HARVESTED,
        WorkflowState.UPLOAD_ATTEMPTED,
    }
)


class Verdict(StrEnum):
    """The per-run decision."""

    PENDING = "pending"
    READY = "ready"
    BLOCKED = "blocked"
    UNKNOWN = "unknown"
    RELEASED = "released"
    MISSED = "missed"

    @property
    def is_final(self) -> bool:
        return self in (Verdict.RELEASED, Verdict.MISSED)


class Source(StrEnum):
    """The upstream systems the agency spies on."""

    TIER0 = "tier0"
    OMS = "oms"
    HARVEST = "harvest"
    CONDDB = "conddb"
    UPLOAD_LOG = "upload_log"
    DQM = "dqm"
    WMSTATS = "wmstats"


class UploadOutcome(StrEnum):
    OK = "ok"
    REJECTED_LATE = "rejected_late"
    ERROR = "error"
    PENDING = "pending"
    # The log answered but its words fit none of the above: never taken as ok.
    NOT_KNOWN = "not_known"


class DqmStatus(StrEnum):
    """DQM quality-test status, from the GUI's numeric codes."""

    OK = "ok"
    WARNING = "warning"
    ERROR = "error"
    OTHER = "other"

    @classmethod
    def from_code(cls, code: int) -> DqmStatus:
        return {100: cls.OK, 200: cls.WARNING, 300: cls.ERROR}.get(code, cls.OTHER)

    @property
    def severity(self) -> int:
        return {DqmStatus.OTHER: 0, DqmStatus.OK: 1, DqmStatus.WARNING: 2, DqmStatus.ERROR: 3}[self]


class HarvestJobState(StrEnum):
    SUCCESS = "success"
    FAILED = "failed"
    PAUSED = "paused"
