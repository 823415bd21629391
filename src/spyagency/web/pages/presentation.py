"""How values read on a page, whatever the page: times and durations, the look of each
workflow state, verdict and source, and links from evidence to where it was read. Pure
functions of the value (no request, no template, no store), so the templates, the dashboard's
row cells and the form notices all say the same thing the same way.

Times are always UTC, at minute precision, marked ``Z``.

Looks: a short label, a colour class and a full phrase per workflow state, verdict and source.
Colour is never the only carrier: every cell also shows the abbreviation and its title the
full phrase, so the pages read the same for colour-blind operators and on a grey wall screen.

Evidence links: an operator who doubts a state should be one click from what the spy read. The
shapes follow docs/protocols.md (DQM GUI JSON folders, the upload service's ``getFileLog``,
WMStats job details, the CondDB browser). Only ``http(s)`` links are ever produced, so no
evidence text can smuggle a ``javascript:`` URL into a page. The links go where this agency's
spies read (``UpstreamSites.from_sources``): an agency watching a test bed or the simulator
must not send its operators to production pages about runs production never had.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import quote, urlsplit

from spyagency.config.settings import SourceSettings, SourcesSettings
from spyagency.domain.catalogue import WorkflowSpec
from spyagency.domain.clock import utc
from spyagency.domain.evidence import Evidence
from spyagency.domain.states import Source, Verdict, WorkflowState

# Times and durations.


# A dashboard shows thousands of times, mostly the same few (one per engine save).
@lru_cache(maxsize=4096)
def when(moment: datetime | None) -> str:
    """``2026-06-01 08:00Z``, or an em dash when there is no such moment."""
    if moment is None:
        return "—"
    return f"{utc(moment):%Y-%m-%d %H:%MZ}"


def when_seconds(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return f"{utc(moment):%Y-%m-%d %H:%M:%SZ}"


@lru_cache(maxsize=4096)
def iso(moment: datetime | None) -> str:
    """Machine-readable form for ``datetime`` and ``data-*`` attributes (read by app.js)."""
    if moment is None:
        return ""
    return utc(moment).isoformat().replace("+00:00", "Z")


def duration(span: timedelta | None) -> str:
    """``2d 03h``, ``5h 07m``, ``12m``; negative spans read ``-5m`` (overdue)."""
    if span is None:
        return "—"
    seconds = int(span.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{sign}{days}d {hours:02d}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    return f"{sign}{minutes}m"


def hours_after(later: datetime | None, earlier: datetime | None) -> float | None:
    """Hours from ``earlier`` to ``later``, rounded for plots; None when either is unknown."""
    if later is None or earlier is None:
        return None
    return round((utc(later) - utc(earlier)).total_seconds() / 3600, 3)


# Looks of states, verdicts and sources.


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


# Links from evidence to the upstream page or log it came from.

SHA1 = re.compile(r"\b[0-9a-f]{40}\b")
STREAM = re.compile(r"stream (\w+)")


# OMS's own run report page (its API has no page for people).
OMS_REPORT = "https://cmsoms.cern.ch/cms/runs/report?cms_run="
# The run's record in an OMS aggregation API, as the OMS spy asks for it (brackets escaped).
OMS_API_RUN = "runs?filter%5Brun_number%5D%5BEQ%5D="


@dataclass(frozen=True)
class UpstreamSites:
    """Where the upstream pages live (production by default); None: nothing to open there,
    e.g. a CondDB read from a SQLite file has no browser."""

    dqm_gui: str | None = "https://cmsweb.cern.ch/dqm/offline"
    conddb_browser: str | None = "https://cms-conddb.cern.ch/cmsDbBrowser"
    upload_logs: str | None = "https://cms-conddb.cern.ch/cmsDbBrowser/logs/dropBox"
    wmstats: str | None = "https://cmsweb.cern.ch/t0_reqmon/data"
    tier0: str | None = "https://cmsweb.cern.ch/t0wmadatasvc/prod"
    # The run number is appended to this.
    oms_run: str | None = OMS_REPORT

    @classmethod
    def from_sources(cls, sources: SourcesSettings) -> UpstreamSites:
        """The pages of the upstreams the agency is configured to read.

        A source without a URL keeps the production page; an HTTP source's configured base
        URL replaces it (the spies' paths are the pages' paths). OMS keeps its report page
        when the configured API is on the same host, else links the run's API record. The
        CondDB browser is production's only for an Oracle CondDB: any other (a SQLite file)
        has none."""
        production = cls()
        oms_url = sources.oms.url
        oms_run: str | None
        if oms_url and _is_web_url(oms_url):
            same_host = urlsplit(oms_url).netloc == urlsplit(OMS_REPORT).netloc
            oms_run = OMS_REPORT if same_host else f"{oms_url.rstrip('/')}/{OMS_API_RUN}"
        else:
            oms_run = None if oms_url else production.oms_run
        conddb_url = sources.conddb.url
        return cls(
            dqm_gui=_web_base(sources.dqm, production.dqm_gui),
            conddb_browser=production.conddb_browser
            if not conddb_url or conddb_url.startswith("oracle")
            else None,
            upload_logs=_web_base(sources.upload_log, production.upload_logs),
            wmstats=_web_base(sources.wmstats, production.wmstats),
            tier0=_web_base(sources.tier0, production.tier0),
            oms_run=oms_run,
        )


def _web_base(source: SourceSettings, production: str | None) -> str | None:
    if not source.url:
        return production
    return source.url.rstrip("/") if _is_web_url(source.url) else None


@dataclass(frozen=True)
class EvidenceContext:
    """What a link needs beyond the evidence itself."""

    run: int
    spec: WorkflowSpec | None = None
    era: str | None = None
    # The stream's express_config.proc_version: without it the dataset is not named.
    proc_version: int | None = None


def evidence_link(
    evidence: Evidence, context: EvidenceContext, sites: UpstreamSites | None = None
) -> str | None:
    """The upstream URL for ``evidence``, or None when there is nothing sensible to open."""
    sites = sites or UpstreamSites()
    ref = evidence.ref or ""
    if ref.startswith(("https://", "http://")):
        return ref if _is_web_url(ref) else None
    if ref.startswith("conddb:"):
        if sites.conddb_browser is None:
            return None
        tag = ref.split(":")[1]
        return f"{sites.conddb_browser}/list/Prod/tags/{quote(tag, safe='')}"
    return _by_source(evidence, context, sites)


def _by_source(evidence: Evidence, context: EvidenceContext, sites: UpstreamSites) -> str | None:
    run = context.run
    source = evidence.source
    if source is Source.DQM and sites.dqm_gui and context.spec and context.spec.dqm_folder:
        stream = context.spec.streams[0] if context.spec.streams else "Express"
        era = context.era or "Run"
        if context.proc_version is None:
            return f"{sites.dqm_gui}/data/json/archive/{run}"
        dataset = context.spec.dqm_dataset(era, stream, context.proc_version)
        folder = quote(context.spec.dqm_folder)
        return f"{sites.dqm_gui}/data/json/archive/{run}{quote(dataset)}/{folder}?rootcontent=1"
    if source is Source.UPLOAD_LOG and sites.upload_logs:
        found = SHA1.search(evidence.what)
        if found:
            return f"{sites.upload_logs}/getFileLog?fileHash={found.group(0)}"
        return None
    if source is Source.WMSTATS and sites.wmstats:
        named = STREAM.search(evidence.what)
        name = f"Express_Run{run}_Stream{named.group(1) if named else 'Express'}"
        return f"{sites.wmstats}/jobdetail/{quote(name)}"
    if source is Source.TIER0 and sites.tier0:
        return f"{sites.tier0}/express_config?run={run}"
    if source is Source.OMS and sites.oms_run:
        return f"{sites.oms_run}{run}"
    return None


def _is_web_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
