"""How the public vocabulary looks on a page: a short label, a colour class and a full phrase
per workflow state, verdict and source.

Colour is never the only carrier: every cell also shows the abbreviation and its title the
full phrase, so the pages read the same for colour-blind operators and on a grey wall screen.
"""

from __future__ import annotations

from dataclasses import dataclass

from spyagency.domain.states import Source, Verdict, WorkflowState


@dataclass(frozen=True)
class Look:
    """``short`` fits a dashboard cell, ``css`` picks the colour, ``phrase`` is the title."""

    short: str
    css: str
    phrase: str


STATE_LOOKS: dict[WorkflowState, Look] = {
    WorkflowState.NOT_EXPECTED: Look("·", "st-none", "not expected for this run"),
    WorkflowState.WAITING_EXPRESS: Look("wait", "st-wait", "waiting for express"),
    WorkflowState.HARVESTING: Look("harv", "st-work", "harvesting"),
    WorkflowState.NO_PAYLOAD: Look("none", "st-good", "no payload by design (proven)"),
    WorkflowState.HARVESTED: Look("done", "st-work", "harvested, not uploaded yet"),
    WorkflowState.UPLOAD_ATTEMPTED: Look("upl", "st-work", "upload attempted, not proven"),
    WorkflowState.IN_DB: Look("DB", "st-good", "in the CondDB (proven)"),
    WorkflowState.QUALITY_FAILED: Look("DQM!", "st-bad", "quality tests failed"),
    WorkflowState.REJECTED_LATE: Look("late", "st-late", "upload rejected: too late"),
    WorkflowState.UPLOAD_FAILED: Look("FAIL", "st-bad", "upload failed"),
    WorkflowState.TIMED_OUT: Look("TIME", "st-bad", "timed out"),
    WorkflowState.UNKNOWN: Look("?", "st-unknown", "unknown: a source is stale"),
}

VERDICT_LOOKS: dict[Verdict, Look] = {
    Verdict.PENDING: Look("pending", "v-pending", "calibrations still expected"),
    Verdict.READY: Look("ready", "v-ready", "every required calibration proven"),
    Verdict.BLOCKED: Look("blocked", "v-blocked", "needs an expert before the lock-in"),
    Verdict.UNKNOWN: Look("unknown", "v-unknown", "cannot judge: never treated as ready"),
    Verdict.RELEASED: Look("released", "v-released", "released with all calibrations"),
    Verdict.MISSED: Look("missed", "v-missed", "locked without its calibrations"),
}

SOURCE_CSS: dict[Source, str] = {
    Source.TIER0: "src-tier0",
    Source.OMS: "src-oms",
    Source.HARVEST: "src-harvest",
    Source.CONDDB: "src-conddb",
    Source.UPLOAD_LOG: "src-upload",
    Source.DQM: "src-dqm",
    Source.WMSTATS: "src-wmstats",
}


def state_look(state: WorkflowState | str) -> Look:
    try:
        return STATE_LOOKS[WorkflowState(state)]
    except ValueError:
        return Look(str(state)[:5], "st-unknown", str(state))


def verdict_look(verdict: Verdict | str) -> Look:
    try:
        return VERDICT_LOOKS[Verdict(verdict)]
    except ValueError:
        return Look(str(verdict), "v-unknown", str(verdict))


def source_css(source: Source | str | None) -> str:
    """The colour class of a source; the agency's own conclusions get a neutral one."""
    if source is None:
        return "src-agency"
    try:
        return SOURCE_CSS[Source(source)]
    except ValueError:
        return "src-agency"
