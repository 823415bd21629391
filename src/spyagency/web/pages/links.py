"""Links from a piece of evidence to the upstream page or log it came from.

An operator who doubts a state should be one click from what the spy read. The shapes follow
docs/protocols.md (DQM GUI JSON folders, the upload service's ``getFileLog``, WMStats job
details, the CondDB browser). Only ``http(s)`` links are ever produced, so no evidence text can
smuggle a ``javascript:`` URL into a page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from spyagency.domain.catalogue import WorkflowSpec
from spyagency.domain.evidence import Evidence
from spyagency.domain.states import Source

SHA1 = re.compile(r"\b[0-9a-f]{40}\b")
STREAM = re.compile(r"stream (\w+)")


@dataclass(frozen=True)
class UpstreamSites:
    """Where the production upstream pages live; a deployment may point them elsewhere."""

    dqm_gui: str = "https://cmsweb.cern.ch/dqm/offline"
    conddb_browser: str = "https://cms-conddb.cern.ch/cmsDbBrowser"
    upload_logs: str = "https://cms-conddb.cern.ch/cmsDbBrowser/logs/dropBox"
    wmstats: str = "https://cmsweb.cern.ch/t0_reqmon/data"
    tier0: str = "https://cmsweb.cern.ch/t0wmadatasvc/prod"
    oms: str = "https://cmsoms.cern.ch/cms/runs/report"


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
        tag = ref.split(":")[1]
        return f"{sites.conddb_browser}/list/Prod/tags/{quote(tag, safe='')}"
    return _by_source(evidence, context, sites)


def _by_source(evidence: Evidence, context: EvidenceContext, sites: UpstreamSites) -> str | None:
    run = context.run
    source = evidence.source
    if source is Source.DQM and context.spec is not None and context.spec.dqm_folder:
        stream = context.spec.streams[0] if context.spec.streams else "Express"
        era = context.era or "Run"
        if context.proc_version is None:
            return f"{sites.dqm_gui}/data/json/archive/{run}"
        dataset = context.spec.dqm_dataset(era, stream, context.proc_version)
        folder = quote(context.spec.dqm_folder)
        return f"{sites.dqm_gui}/data/json/archive/{run}{quote(dataset)}/{folder}?rootcontent=1"
    if source is Source.UPLOAD_LOG:
        found = SHA1.search(evidence.what)
        if found:
            return f"{sites.upload_logs}/getFileLog?fileHash={found.group(0)}"
        return None
    if source is Source.WMSTATS:
        named = STREAM.search(evidence.what)
        name = f"Express_Run{run}_Stream{named.group(1) if named else 'Express'}"
        return f"{sites.wmstats}/jobdetail/{quote(name)}"
    if source is Source.TIER0:
        return f"{sites.tier0}/express_config?run={run}"
    if source is Source.OMS:
        return f"{sites.oms}?cms_run={run}"
    return None


def _is_web_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
