"""The pages' small parts: evidence links, column choice, formatting, KPI quantiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from spyagency.domain.catalogue import load_catalogue
from spyagency.domain.evidence import Evidence
from spyagency.domain.states import Source, Verdict, WorkflowState
from spyagency.store.run_records import RunSummary
from spyagency.web.pages.dashboard import Cell, DashboardRun, cells_html, visible_columns
from spyagency.web.pages.kpi import Kpi, quantile
from spyagency.web.pages.presentation import (
    EvidenceContext,
    duration,
    evidence_link,
    hours_after,
    iso,
    state_look,
    verdict_look,
    when,
)

T = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
SHA = "0123456789abcdef0123456789abcdef01234567"


def test_links_by_ref_and_by_source() -> None:
    spec = load_catalogue().by_name("SiPixelAli")
    context = EvidenceContext(380100, spec, "Run2026A", proc_version=1)
    assert evidence_link(Evidence(Source.DQM, "x"), EvidenceContext(380100, spec)) == (
        "https://cmsweb.cern.ch/dqm/offline/data/json/archive/380100"
    )
    conddb = evidence_link(Evidence(Source.CONDDB, "x", ref="conddb:Tag_v1:380100"), context)
    assert conddb == "https://cms-conddb.cern.ch/cmsDbBrowser/list/Prod/tags/Tag_v1"
    dqm = evidence_link(Evidence(Source.DQM, "ERROR: t1"), context)
    assert dqm is not None
    assert dqm.startswith("https://cmsweb.cern.ch/dqm/offline/data/json/archive/380100/")
    assert "PromptCalibProdSiPixelAli-Express-v1/ALCAPROMPT/AlCaReco/SiPixelAli" in dqm
    log = evidence_link(Evidence(Source.UPLOAD_LOG, f"tag: failed, file {SHA}"), context)
    assert log == f"https://cms-conddb.cern.ch/cmsDbBrowser/logs/dropBox/getFileLog?fileHash={SHA}"
    assert evidence_link(Evidence(Source.UPLOAD_LOG, "tag: boom"), context) is None
    job = evidence_link(Evidence(Source.WMSTATS, "harvest job of stream ExpressCosmics"), context)
    assert (
        job
        == "https://cmsweb.cern.ch/t0_reqmon/data/jobdetail/Express_Run380100_StreamExpressCosmics"
    )
    assert evidence_link(Evidence(None, "agency"), context) is None


def test_links_never_carry_other_schemes() -> None:
    context = EvidenceContext(1)
    assert evidence_link(Evidence(None, "x", ref="javascript:alert(1)"), context) is None
    assert (
        evidence_link(Evidence(None, "x", ref="https://x.example/a"), context)
        == "https://x.example/a"
    )
    assert evidence_link(Evidence(None, "x", ref="https:///nohost"), context) is None


def run_with(number: int, locked: bool = False, **states: WorkflowState) -> DashboardRun:
    cells = {name: Cell(state, T, True, False, None) for name, state in states.items()}
    summary = RunSummary(
        run=number,
        verdict=Verdict.PENDING,
        automatic_verdict=Verdict.PENDING,
        reasons=(),
        verdict_since=T,
        stop=T,
        lock_in_at=T,
        locked_at=T if locked else None,
        released_at=None,
        proof_complete_at=None,
        stale_sources=(),
        updated_at=T,
        version=1,
    )
    return DashboardRun(summary, cells)


def test_columns_keep_catalogue_order_and_drop_unexpected() -> None:
    runs = [
        run_with(2, B=WorkflowState.IN_DB, A=WorkflowState.NOT_EXPECTED, X=WorkflowState.UNKNOWN),
        run_with(1, A=WorkflowState.NOT_EXPECTED, C=WorkflowState.HARVESTING),
    ]
    assert visible_columns(["A", "B", "C"], runs).names == ("B", "C", "X")
    wall = visible_columns(["A", "B", "C"], runs, wall=True)
    assert wall.names == ("C", "X")
    assert wall.quiet_hidden == 1


def test_wall_ignores_problems_of_locked_runs() -> None:
    runs = [run_with(1, locked=True, A=WorkflowState.TIMED_OUT)]
    assert visible_columns(["A"], runs, wall=True).names == ()


def test_formatting() -> None:
    assert when(T) == "2026-06-01 08:00Z"
    assert when(None) == "—"
    assert iso(T) == "2026-06-01T08:00:00Z"
    assert duration(timedelta(days=2, hours=3, minutes=5)) == "2d 03h"
    assert duration(timedelta(hours=5, minutes=7)) == "5h 07m"
    assert duration(timedelta(minutes=-12)) == "-12m"
    assert hours_after(T + timedelta(minutes=90), T) == 1.5
    assert hours_after(None, T) is None


def test_looks_have_words_for_every_state_and_verdict() -> None:
    for state in WorkflowState:
        assert state_look(state).short and state_look(state).phrase
    for verdict in Verdict:
        assert verdict_look(verdict).short == verdict.value
    assert state_look("from-the-future").css == "st-unknown"


def test_quantiles() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 50.0]
    assert quantile(values, 0.5) == 3.0
    assert quantile(values, 0.99) == 50.0
    kpi = Kpi(values, [], 4, 1, [])
    assert [name for name, _ in kpi.quantiles(values)] == ["p10", "p50", "p90", "p99"]


def test_cells_are_small_escaped_and_timed_only_where_time_matters() -> None:
    run = run_with(1, A=WorkflowState.IN_DB, B=WorkflowState.TIMED_OUT)
    tricky = Cell(WorkflowState.UPLOAD_FAILED, T, True, True, '"><script>x()</script>')
    run.cells["C"] = tricky
    html = str(cells_html(run, ["A", "B", "C", "D"]))
    assert html.startswith('<td class="st-good" title="in_db">DB</td>')
    assert '<td class="st-bad" title="timed_out since 2026-06-01 08:00Z">TIME</td>' in html
    assert "<script>" not in html
    assert "&#34;&gt;&lt;script&gt;" in html
    assert 'class="st-bad optional ignored"' in html
    assert html.endswith('<td class="st-absent"></td>')
