"""The run page: verdict with reasons, proof and the forecast of when it will be ready,
deadlines, every workflow with its evidence, the merged timeline, overrides (with forms for
those allowed) and the run's alerts.

Routes: ``GET /runs/{run}`` and ``GET /fragments/runs/{run}/detail`` (the same content without
the page around it, re-fetched by app.js when the run changes).

Its read model takes the run, its history and everything done about it from one read snapshot
(a fixed handful of queries, none per workflow). The timeline merges every observation from
every source and every change the agency made, newest first, each line short enough to scan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from spyagency.domain.clock import utc
from spyagency.domain.evidence import Evidence
from spyagency.domain.facts import Fact
from spyagency.domain.observation import Observation
from spyagency.domain.overrides import OverrideKind
from spyagency.domain.policy import Policy
from spyagency.domain.queue import queue_of
from spyagency.domain.states import WorkflowState
from spyagency.store.alerts import Alert
from spyagency.store.events import Event
from spyagency.store.overrides import OverrideRecord
from spyagency.store.retention import ObservationSummary
from spyagency.store.run_labels import RunLabels
from spyagency.store.run_records import RunRecord
from spyagency.store.signals import Signal
from spyagency.store.uow import Transaction
from spyagency.web import plot_answers
from spyagency.web.api.forecasts import run_forecast
from spyagency.web.authorization import give_override, revoke_override
from spyagency.web.pages.presentation import EvidenceContext, evidence_link, when
from spyagency.web.pages.rendering import PageKit, Viewer, read_banner
from spyagency.web.params import RunNumber
from spyagency.web.schemas.forecasts import RunForecast
from spyagency.web.schemas.runs import RunStateBars

# The timeline.

# Fields that say nothing on a run's own page (the run) or that are too long for one line.
SKIPPED_FIELDS = frozenset({"run", "payload_hashes", "outputs"})
MAX_VALUE = 80


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    source: str | None  # a source name for observations; None for the agency's own changes
    kind: str
    workflow: str | None
    text: str


def merge_timeline(
    observations: Iterable[Observation], events: Iterable[Event]
) -> list[TimelineEntry]:
    entries = [_from_observation(item) for item in observations]
    entries.extend(_from_event(item) for item in events)
    # Newest first; at equal times the agency's conclusion follows what it saw.
    entries.sort(key=lambda entry: (utc(entry.at), entry.source is None), reverse=True)
    return entries


def fact_summary(fact: Fact) -> str:
    """``harvest_file: input_tag=SiPixelAli_pcl uuid=u1 created=...`` from any fact."""
    parts = []
    for item in fields(fact):
        if item.name in SKIPPED_FIELDS:
            continue
        value = getattr(fact, item.name)
        if value is None or value == ():
            continue
        parts.append(f"{item.name}={_short(value)}")
    return f"{fact.kind}: {' '.join(parts)}"


def _from_observation(item: Observation) -> TimelineEntry:
    workflow = getattr(item.fact, "workflow", None)
    return TimelineEntry(
        at=item.observed_at,
        source=item.source.value,
        kind=item.fact.kind,
        workflow=workflow if isinstance(workflow, str) else None,
        text=fact_summary(item.fact),
    )


def _from_event(item: Event) -> TimelineEntry:
    change = f"{item.old or '∅'} → {item.new or '∅'}"
    detail = _event_detail(item.kind, item.detail)
    text = f"{item.kind}: {change}" + (f" — {detail}" if detail else "")
    return TimelineEntry(item.at, None, item.kind, item.workflow, text)


def _event_detail(kind: str, detail: dict[str, Any]) -> str:
    if "reasons" in detail:
        return "; ".join(str(reason) for reason in detail["reasons"])
    if "evidence" in detail:
        items = detail["evidence"]
        return "; ".join(str(item.get("what", "")) for item in items[:2] if isinstance(item, dict))
    return " ".join(f"{key}={_short(value)}" for key, value in sorted(detail.items()))


def _short(value: object) -> str:
    if isinstance(value, datetime):
        text = f"{utc(value):%Y-%m-%d %H:%MZ}"
    elif isinstance(value, tuple | list):
        text = ",".join(str(v) for v in value)
    else:
        text = str(getattr(value, "value", value))
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


# The read model.


@dataclass(frozen=True)
class Deadline:
    name: str
    at: datetime | None
    meaning: str
    # Set once the deadline no longer runs (met, or the run is final): shown instead of a
    # countdown, which would otherwise read "overdue" on a run long released.
    outcome: str | None = None


@dataclass(frozen=True)
class RunPage:
    record: RunRecord
    labels: RunLabels
    fcsr: int | None
    timeline: list[TimelineEntry]
    overrides: list[OverrideRecord]
    alerts: list[Alert]
    signals: list[Signal]
    # Observations retention removed from the timeline, one line per source.
    compacted: list[ObservationSummary]

    def active_overrides(self, now: datetime) -> list[OverrideRecord]:
        return [item for item in self.overrides if item.override.active(now)]

    def past_overrides(self, now: datetime) -> list[OverrideRecord]:
        return [item for item in self.overrides if not item.override.active(now)]


def read_run_page(tx: Transaction, run: int) -> RunPage | None:
    record = tx.states.get_run(run)
    if record is None:
        return None
    timeline = merge_timeline(tx.observations.timeline(run), tx.events.for_run(run))
    return RunPage(
        record=record,
        labels=tx.labels.of_run(run),
        fcsr=tx.run_lists.first_condition_safe_run(),
        timeline=timeline,
        overrides=tx.overrides.for_run(run),
        alerts=tx.alerts.for_run(run),
        signals=tx.signals.for_run(run),
        compacted=tx.retention.summaries_for_run(run),
    )


def deadlines(record: RunRecord, policy: Policy) -> list[Deadline]:
    """The run's clock after it stopped, in the order they fall (docs/protocols.md, "The clock
    of a run")."""
    assessment = record.assessment
    stop = assessment.stop
    if stop is None:
        return [Deadline("run stop", None, "the run is still taking data (or OMS is silent)")]
    counted = [w for w in assessment.workflows if w.counted and w.ignored_by is None]
    harvesting = (WorkflowState.WAITING_EXPRESS, WorkflowState.HARVESTING)
    final = assessment.verdict.is_final
    final_note = f"run {assessment.verdict.value}" if final else None
    harvested = None if any(w.state in harvesting for w in counted) else "met"
    uploaded = "met" if all(w.satisfied for w in counted) else None
    locked = f"locked {when(assessment.locked_at)}" if assessment.locked_at else None
    released = f"released {when(assessment.released_at)}" if assessment.released_at else None
    return [
        Deadline(
            "harvest",
            stop + policy.harvest_timeout,
            "AlCa harvesting should be done",
            harvested or final_note,
        ),
        Deadline(
            "upload",
            stop + policy.upload_timeout,
            "payloads should be in the CondDB",
            uploaded or final_note,
        ),
        Deadline(
            "lock-in",
            assessment.lock_in_at or stop + policy.lock_in_delay(),
            "the Tier-0 freezes conditions for this run",
            locked or final_note,
        ),
        Deadline(
            "timer release",
            stop + policy.reco_delay,
            "PromptReco starts on the timer",
            released or final_note,
        ),
    ]


# The routes.

NOT_EXPECTED = WorkflowState.NOT_EXPECTED
EvidenceLinker = Callable[[Evidence, str], str | None]


def add_routes(api: APIRouter, kit: PageKit) -> None:
    services = kit.services

    def detail_context(
        page: RunPage,
        bars: RunStateBars | None,
        held_by: int | None,
        forecast: RunForecast,
        viewer: Viewer,
    ) -> dict[str, Any]:
        now = services.clock.now()
        return {
            "page": page,
            "forecast": forecast,
            "state_bars": bars,
            "held_by": held_by,
            "record": page.record,
            "assessment": page.record.assessment,
            "deadlines": deadlines(page.record, services.policy),
            "active_overrides": page.active_overrides(now),
            "past_overrides": page.past_overrides(now),
            "link": _linker(kit, page),
            "override_kinds": [k for k in OverrideKind if viewer.can(give_override(k))],
            "may_revoke": lambda kind: viewer.can(revoke_override(kind)),
            "workflow_names": [w.workflow for w in page.record.workflows if w.counted],
            "expected": [w for w in page.record.workflows if w.state is not NOT_EXPECTED],
            "not_expected": [w for w in page.record.workflows if w.state is NOT_EXPECTED],
        }

    @api.get("/runs/{run}", response_class=HTMLResponse, include_in_schema=False)
    def run_page(request: Request, run: RunNumber) -> Response:
        viewer = kit.reader(request)
        if not isinstance(viewer, Viewer):
            return viewer
        now = services.clock.now()
        with services.store.read() as tx:
            banner = read_banner(tx, services, now)
            page = read_run_page(tx, run)
            bars = plot_answers.run_state_bars(tx, services.policy, run, now)
            held_by = queue_of(tx.states.queued_runs()).held_by(run)
            forecast = run_forecast(tx, page.record, now) if page is not None else None
        if page is None or forecast is None:
            return kit.page(
                request, "not_found.html", viewer, banner, status=404, what=f"run {run}"
            )
        context = detail_context(page, bars, held_by, forecast, viewer)
        return kit.page(request, "run.html", viewer, banner, **context)

    @api.get("/fragments/runs/{run}/detail", response_class=HTMLResponse, include_in_schema=False)
    def run_detail(request: Request, run: RunNumber) -> Response:
        viewer = kit.reader(request)
        if not isinstance(viewer, Viewer):
            return Response(status_code=401)
        now = services.clock.now()
        with services.store.read() as tx:
            page = read_run_page(tx, run)
            bars = plot_answers.run_state_bars(tx, services.policy, run, now)
            held_by = queue_of(tx.states.queued_runs()).held_by(run)
            forecast = run_forecast(tx, page.record, now) if page is not None else None
        if page is None or forecast is None:
            return Response(status_code=404)
        context = detail_context(page, bars, held_by, forecast, viewer)
        body = kit.render_text(
            "_run_detail.html", viewer=viewer, now=services.clock.now(), **context
        )
        return HTMLResponse(body, headers={"Cache-Control": "no-store"})


def _linker(kit: PageKit, page: RunPage) -> EvidenceLinker:
    catalogue = kit.services.catalogue

    def link(evidence: Evidence, workflow: str) -> str | None:
        context = EvidenceContext(page.record.run, catalogue.by_name(workflow), page.labels.era)
        return evidence_link(evidence, context, kit.sites)

    return link
