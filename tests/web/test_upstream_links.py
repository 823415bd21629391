"""Evidence links go where the agency's spies read: a simulated CMS links to the simulator's
pages (which answer them), production keeps production's, and a CondDB in a file has none."""

from __future__ import annotations

from pathlib import Path

import httpx2

from spyagency.config.settings import SourcesSettings
from spyagency.domain.catalogue import load_catalogue
from spyagency.domain.evidence import Evidence
from spyagency.domain.states import Source
from spyagency.harness.demo import agency_document
from spyagency.simulator import SimulatorServer
from spyagency.web.pages.presentation import EvidenceContext, UpstreamSites, evidence_link
from tests.web.page_world import READY, fetch_page, make_world, text_between

RUN = 380100
SHA = "0123456789abcdef0123456789abcdef01234567"


def _links(sites: UpstreamSites) -> dict[str, str | None]:
    context = EvidenceContext(RUN, load_catalogue().by_name("SiPixelAli"))
    evidence = {
        "tier0": Evidence(Source.TIER0, "express_config"),
        "oms": Evidence(Source.OMS, "run metadata"),
        "wmstats": Evidence(Source.WMSTATS, "harvest job of stream Express"),
        "upload_log": Evidence(Source.UPLOAD_LOG, f"tag: failed, file {SHA}"),
        "dqm": Evidence(Source.DQM, "ERROR"),
        "conddb": Evidence(Source.CONDDB, "iov", ref=f"conddb:Tag_v1:{RUN}"),
    }
    return {name: evidence_link(item, context, sites) for name, item in evidence.items()}


def test_a_simulated_cms_is_linked_to_the_simulator_which_answers(tmp_path: Path) -> None:
    with SimulatorServer("quiet_day", tmp_path / "sim", speed=600.0) as simulator:
        document = agency_document(simulator.agency_config(), tmp_path, 8080, 600.0)
        sites = UpstreamSites.from_sources(SourcesSettings.model_validate(document["sources"]))
        links = _links(sites)
        for name in ("tier0", "oms", "wmstats", "upload_log", "dqm"):
            link = links[name]
            assert link is not None and link.startswith(simulator.base_url + "/"), name
        # A CondDB in a SQLite file has no browser: no link rather than production's.
        assert links["conddb"] is None
        with httpx2.Client(timeout=10) as http:
            # Pages about one run: the simulator serves them (empty before the run exists).
            for name in ("tier0", "oms"):
                link = links[name]
                assert link is not None
                answer = http.get(link)
                assert answer.status_code == 200, (name, answer.text[:200])
                assert answer.json() is not None


def test_unconfigured_sources_keep_the_production_pages() -> None:
    links = _links(UpstreamSites.from_sources(SourcesSettings()))
    assert links == _links(UpstreamSites())
    assert links["oms"] == f"https://cmsoms.cern.ch/cms/runs/report?cms_run={RUN}"
    assert links["conddb"] == "https://cms-conddb.cern.ch/cmsDbBrowser/list/Prod/tags/Tag_v1"


def test_production_urls_link_production_pages() -> None:
    sources = SourcesSettings.model_validate(
        {
            "tier0": {"url": "https://cmsweb.cern.ch/t0wmadatasvc/prod/"},
            "oms": {"url": "https://cmsoms.cern.ch/agg/api/v1/"},
            "conddb": {"url": "oracle+oracledb://reader@cms_orcon_adg"},
            "wmstats": {"url": "https://cmsweb.cern.ch/t0_reqmon/data/"},
        }
    )
    links = _links(UpstreamSites.from_sources(sources))
    assert links == _links(UpstreamSites())


def test_a_test_bed_oms_links_the_runs_api_record() -> None:
    sources = SourcesSettings.model_validate({"oms": {"url": "http://testbed.example/api/v1/"}})
    assert _links(UpstreamSites.from_sources(sources))["oms"] == (
        f"http://testbed.example/api/v1/runs?filter%5Brun_number%5D%5BEQ%5D={RUN}"
    )


async def test_the_run_page_links_the_configured_upstreams(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.services.sources = SourcesSettings.model_validate(
        {"conddb": {"url": f"sqlite:///{tmp_path / 'conddb.sqlite'}"}}
    )
    html = await fetch_page(world, f"/runs/{READY}")
    gains = text_between(html, 'id="wf-SiStripGains"', "</tr>")
    assert "tag SiStripApvGain_PCL_v0_prompt: IOV since" in gains
    assert "cms-conddb.cern.ch" not in html
