from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spyagency.domain.facts import DqmQuality, ItemProblem
from spyagency.domain.iov import TimeType
from spyagency.domain.states import DqmStatus, Source
from spyagency.simulator import dqm_content
from spyagency.simulator.catalogue import HarvestWorkflow
from spyagency.simulator.plan import RunPlan, WorkflowOutcome, WorkflowPlan
from spyagency.spies.dqm import DqmSpy, dqm_dataset
from spyagency.spies.dqm_rows import classify_pede_message, read_folder_text, summarise_contents
from spyagency.spies.failures import SchemaViolation
from spyagency.spies.jsonfairy import StatusBins, parse_status_results
from spyagency.spies.scope import PollScope, RunScope, SpyReport, WorkflowScope
from tests.spies.fakes import NOW, fast_settings, fixed_clock

BASE = "http://dqm.test/dqm/offline/"
MARK = ("file harvested u1",)  # harvested: DQM is asked


def workflow(
    name: str, producer: str, folder: str | None, stream: str = "Express"
) -> WorkflowScope:
    return WorkflowScope(
        name, producer, (f"{name}_pcl",), TimeType.RUN, ("T",), folder, (stream,), MARK
    )


ALI = workflow("SiPixelAli", "PromptCalibProdSiPixelAli", "AlCaReco/SiPixelAli")
BS = workflow("BeamSpotByRun", "PromptCalibProd", "AlCaReco/BeamSpot")
GAINS = workflow("SiStripGains", "PromptCalibProdSiStripGains", "AlCaReco/SiStripGains")
NO_FOLDER = workflow("LumiPCC", "PromptCalibProdLumiPCC", None, "ALCALumiPixelsCountsExpress")

ALI_PATH = (
    "380000/StreamExpress/Run2026A-PromptCalibProdSiPixelAli-Express-v2/ALCAPROMPT/"
    "AlCaReco/SiPixelAli"
)
BS_PATH = "380000/StreamExpress/Run2026A-PromptCalibProd-Express-v2/ALCAPROMPT/AlCaReco/BeamSpot"
FOLDER = "/dqm/offline/data/json/archive/"
FAIRY = "/dqm/offline/jsonfairy/archive/"


def entry(name: str, *, qresults: list[dict[str, Any]] | None = None, **last: str) -> str:
    """One line of a folder answer as the GUI writes it (serverext.cc objectToJSON)."""
    head = {"obj": name, "path": f"F/{name}", "properties": {"kind": "ROOT"}}
    head["qresults"] = qresults or []
    text = json.dumps(head)[:-1]
    for key, value in last.items():  # written raw, quotes escaped only, like the GUI
        text += f', "{key}": "{value.replace(chr(34), chr(92) + chr(34))}"'
    return text + "}\n"


def folder(*entries: str) -> str:
    return '{"contents": [' + ", ".join(['{ "streamerinfo":"" }\n', *entries]) + "]}"


def hist(labels: list[str], content: list[list[float]]) -> str:
    axis = {"labels": [{"center": n + 0.5, "value": v} for n, v in enumerate(labels)]}
    return json.dumps({"hist": {"type": "TH2", "xaxis": axis, "bins": {"content": content}}})


DECISIONS = [
    "DB updated",
    "significant movement",
    "DB update vetoed",
    "within max movement",
    "within max error",
    "above significance",
]
ALI_FOLDER = folder(
    entry("statusResults", rootobj="40ff"),
    entry("PedeExitCode", value="    0   Ended normally"),
    entry("Xpos", qresults=[{"status": 300, "name": "XposInRange"}], rootobj="00"),
)
ALI_BINS = hist(DECISIONS, [[0, 1, 1, 0, 1, 1]])
BS_FOLDER = folder(entry("x0_lumi", qresults=[{"status": 200, "name": "Fit"}], rootobj="00"))


Route = Callable[[str], httpx2.Response]


class Gui:
    def __init__(self, answers: dict[str, str | httpx2.Response]) -> None:
        self.answers = answers
        self.paths: list[str] = []

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        self.paths.append(path)
        for prefix in (FOLDER, FAIRY):
            if path.startswith(prefix):
                key = ("fairy:" if prefix == FAIRY else "") + path.removeprefix(prefix)
                found = self.answers.get(key, '{"contents": []}')
                if isinstance(found, httpx2.Response):
                    return found
                return httpx2.Response(200, text=found)
        return httpx2.Response(404)


def run_scope(
    run: int = 380000,
    stopped: bool = True,
    workflows: tuple[WorkflowScope, ...] = (ALI, BS, GAINS, NO_FOLDER),
    **extra: Any,
) -> RunScope:
    options: dict[str, Any] = {"proc_versions": (("Express", 2),)} | extra
    return RunScope(
        run, stopped, streams=("Express",), acq_era="Run2026A", workflows=workflows, **options
    )


def spy_on(gui: Gui) -> DqmSpy:
    return DqmSpy(
        BASE,
        transport=httpx2.MockTransport(gui.handler),
        clock=fixed_clock,
        settings=fast_settings(attempts=1),
    )


async def poll(gui: Gui, *runs: RunScope) -> SpyReport:
    async with spy_on(gui) as spy:
        return await spy.poll(PollScope(now=NOW, runs=runs))


def dqm_facts(report: SpyReport) -> dict[str, DqmQuality]:
    return {o.fact.workflow: o.fact for o in report.observations if isinstance(o.fact, DqmQuality)}


def problems(report: SpyReport) -> list[ItemProblem]:
    return [o.fact for o in report.observations if isinstance(o.fact, ItemProblem)]


async def test_quality_tests_alignment_bins_and_pede_message() -> None:
    gui = Gui(
        {ALI_PATH: ALI_FOLDER, f"fairy:{ALI_PATH}/statusResults": ALI_BINS, BS_PATH: BS_FOLDER}
    )
    report = await poll(gui, run_scope(), run_scope(380001, stopped=False))
    assert report.errors == [] and report.source is Source.DQM
    found = dqm_facts(report)
    assert found["SiPixelAli"] == DqmQuality(
        run=380000,
        workflow="SiPixelAli",
        status=DqmStatus.ERROR,
        failed_tests=("XposInRange",),
        vetoed=True,
        db_updated=False,
        alignment_read=True,
        pede_message="    0   Ended normally",
        pede_ok=True,
    )
    assert found["BeamSpotByRun"] == DqmQuality(380000, "BeamSpotByRun", DqmStatus.WARNING)
    assert "SiStripGains" not in found  # empty folder: nothing to say
    # Running run not asked; workflow without folder not asked; one export for the bins.
    assert report.requests == len(gui.paths) == 4
    assert all("-Express-v2/" in p for p in gui.paths)


async def test_no_proc_version_no_request() -> None:
    gui = Gui({})
    report = await poll(gui, run_scope(proc_versions=(("Cosmics", 1),)))
    assert gui.paths == [] and report.errors == []
    assert dqm_dataset("Run2026A", "P", "Express", 4) == (
        "/StreamExpress/Run2026A-P-Express-v4/ALCAPROMPT"
    )


async def test_one_unreachable_folder_is_an_item_problem_all_unreachable_a_failure() -> None:
    down = httpx2.Response(502, text="Bad Gateway")
    gui = Gui({ALI_PATH: down, BS_PATH: BS_FOLDER})
    report = await poll(gui, run_scope(workflows=(ALI, BS)))
    assert report.ok and set(dqm_facts(report)) == {"BeamSpotByRun"}
    (problem,) = problems(report)
    assert (problem.workflow, problem.item) == ("SiPixelAli", "data/json/archive/" + ALI_PATH)
    assert "HTTP 502" in problem.message

    gui = Gui({ALI_PATH: down, BS_PATH: down})
    report = await poll(gui, run_scope(workflows=(ALI, BS)))
    assert not report.ok and report.observations == []
    assert all(e.run is None and "HTTP 502" in e.message for e in report.errors)


async def test_unreadable_parts_are_item_problems_of_their_folder() -> None:
    bad_object = folder(entry("h1", qresults=[{"name": "NoStatus"}]), entry("h2"))
    gui = Gui(
        {
            ALI_PATH: ALI_FOLDER,
            f"fairy:{ALI_PATH}/statusResults": "JSON format of archive source plot failed",
            BS_PATH: bad_object,
        }
    )
    report = await poll(gui, run_scope(workflows=(ALI, BS)))
    assert report.ok and dqm_facts(report) == {}  # partial evidence is not reported
    items = {p.item: p for p in problems(report)}
    assert set(items) == {
        f"jsonfairy/archive/{ALI_PATH}/statusResults",
        f"data/json/archive/{BS_PATH}",
    }
    assert "status" in items[f"data/json/archive/{BS_PATH}"].message
    assert {e.run for e in report.errors} == {380000}


async def test_a_folder_read_fine_again_closes_its_problem() -> None:
    gui = Gui({ALI_PATH: ALI_FOLDER, f"fairy:{ALI_PATH}/statusResults": ALI_BINS})
    open_problems = (("dqm", f"data/json/archive/{ALI_PATH}"),)
    report = await poll(gui, run_scope(workflows=(ALI,), open_problems=open_problems))
    (closed,) = problems(report)
    assert closed.item == f"data/json/archive/{ALI_PATH}" and not closed.open
    assert dqm_facts(report)["SiPixelAli"].alignment_read


async def test_run_without_era_or_unsafe_folder_is_not_requested() -> None:
    evil = replace(BS, name="Evil", dqm_folder="AlCaReco/../../admin")
    gui = Gui({})
    no_era = RunScope(380000, True, ("Express",), None, (("Express", 1),), (ALI,))
    unsafe = run_scope(380001, workflows=(evil,))
    report = await poll(gui, no_era, unsafe)
    assert gui.paths == []
    (error,) = report.errors
    assert error.permanent and "unsafe" in error.message


def harvested_scope(mark: tuple[str, ...]) -> PollScope:
    return PollScope(now=NOW, runs=(run_scope(workflows=(replace(BS, harvest_mark=mark),)),))


async def test_a_folder_is_read_again_only_when_its_harvest_evidence_changes() -> None:
    gui = Gui({BS_PATH: BS_FOLDER})
    first_harvest = harvested_scope(("file u1",))
    reharvested = harvested_scope(("file u1", "file u2"))
    async with spy_on(gui) as spy:
        reports = [await spy.poll(first_harvest) for _ in range(4)]
        # Read twice alike (the second confirms the first), then not again.
        assert len(gui.paths) == 2
        assert len(reports[0].observations) == len(reports[1].observations) == 1
        assert reports[2].observations == []
        for _ in range(3):  # cycles 4 to 6
            await spy.poll(reharvested)
        assert len(gui.paths) == 4  # a second harvest: read again, twice (4 and 5)
        for _ in range(DqmSpy.refresh_every - 2):
            await spy.poll(reharvested)
        assert len(gui.paths) == 4
        await spy.poll(reharvested)  # the safety net: refresh_every cycles after the reading
        assert len(gui.paths) == 5
        for _ in range(DqmSpy.refresh_every - 1):  # an equal refresh renews it
            await spy.poll(reharvested)
        assert len(gui.paths) == 5
    async with spy_on(gui) as restarted:
        await restarted.poll(reharvested)
    assert len(gui.paths) == 6  # a restart forgets what was read


async def test_folders_without_harvest_evidence_are_not_asked() -> None:
    gui = Gui({})
    async with spy_on(gui) as spy:
        for _ in range(DqmSpy.refresh_every + 1):
            await spy.poll(harvested_scope(()))
        assert gui.paths == []
        for _ in range(3):  # harvested, the folder is not filled yet: asked every cycle
            await spy.poll(harvested_scope(("job Express success",)))
    assert len(gui.paths) == 3


# ---------------------------------------------------------------- parsers


def test_broken_values_are_recovered_entry_by_entry() -> None:
    text = folder(entry("PedeExitCode", value="line one\nC:\\pede"), entry("h", rootobj="00"))
    with pytest.raises(ValueError):
        json.loads(text)
    contents, bad = read_folder_text(text)
    assert bad == []
    assert [c.get("value") for c in contents[1:]] == ["line one\nC:\\pede", None]
    quoted = folder(entry("PedeExitCode", value='say "hi" \\ bye'))
    assert read_folder_text(quoted)[0][1]["value"] == 'say "hi" \\ bye'


def test_unreadable_or_truncated_entries_are_listed() -> None:
    text = folder(entry("h", rootobj="00"), '{"obj": "broken", "qresults": [\n')
    contents, bad = read_folder_text(text)
    assert len(contents) == 2 and len(bad) == 1
    contents, bad = read_folder_text(text[:-5])
    assert any("truncated" in b.message for b in bad)
    with pytest.raises(SchemaViolation):
        read_folder_text("<html>502</html>")
    legacy = "{'contents': [{'obj': 'h', 'qresults': [{'status': 100, 'name': 'it\\'s'}]}]}"
    assert read_folder_text(legacy)[0][0]["obj"] == "h"


@pytest.mark.parametrize(
    ("message", "ok"),
    [
        ("    0   Ended normally", True),
        ("    1   Ended with warnings (bad measurements)", True),
        ("    3   Ended with severe warnings (bad global matrix)", True),
        ("   29   Aborted, factorization of global matrix failed", False),
        ("   -1   Still running or crashed", False),
        ("Ended normally", True),
        ("Aborted, no binary files", False),
        ("   14", False),  # a failing code alone is enough
        ("    0", None),  # a good code alone is not
        ("    0   Aborted, no steering file", None),  # code and words disagree
        ("no exit code found", None),  # CMSSW could not read millepede.end
        ("", None),
        (None, None),
        ("   -7   Ended normally", None),
    ],
)
def test_pede_messages(message: str | None, ok: bool | None) -> None:
    assert classify_pede_message(message) is ok


@given(st.text(max_size=80))
def test_pede_classifier_never_fails(message: str) -> None:
    assert classify_pede_message(message) in (True, False, None)


def test_status_results_layouts() -> None:
    assert parse_status_results(ALI_BINS) == StatusBins(db_updated=False, vetoed=True)
    old = hist(
        ["is DB updated?", "is DB update vetoed?", "n. records", "pede exit code"], [[1, 0, 9, 0]]
    )
    assert parse_status_results(old) == StatusBins(db_updated=True, vetoed=False)
    grid = hist(["#DeltaX"], [[0.1] * 6 for _ in range(10)])
    assert parse_status_results(grid) == StatusBins(None, None)
    for bad in (
        hist([], [[0, 1, 1, 0, 1, 1]]),  # no labels: which bin is which is unknown
        hist(DECISIONS, [[0, 1, 0.5, 0, 1, 1]]),  # a decision that is neither 0 nor 1
        hist(DECISIONS, [[0, 1, 1]]),
        hist(DECISIONS, [[0, 1, 1, 0, 1, 1], [0, 0, 0, 0, 0, 0]]),
        '{"hist": "unsupported type"}',
        hist(DECISIONS, [[0, 1, "nan", 0, 1, 1]]),  # type: ignore[list-item]
        "JSON format of archive source plot is not supported yet.",
    ):
        with pytest.raises(SchemaViolation):
            parse_status_results(bad)


# ---------------------------------------------------------------- the simulator's answers


@pytest.mark.parametrize("folder_name", ["SiPixelAli", "SiPixelAliHG"])
@pytest.mark.parametrize(("outcome", "dqm_status"), [("payload", 100), ("vetoed", 300)])
def test_the_simulator_speaks_the_shapes_the_spy_reads(
    folder_name: str, outcome: WorkflowOutcome, dqm_status: int
) -> None:
    spec = HarvestWorkflow(folder_name, "P", f"AlCaReco/{folder_name}", True, ())
    wf = WorkflowPlan(spec, outcome, dqm_status, ())
    run = RunPlan(1, 1, "collisions", 0, 1, 100, True, 3.8, True, 6800, (), 1, "h", "l")
    contents = dqm_content.contents_for(run, wf, spec.dqm_folder)
    assert all(not c.get("qresults") for c in contents)  # no QualityTester in PCL folders
    assert not any("bins" in c for c in contents)  # histograms only as streamed objects
    summary = summarise_contents(read_folder_text(json.dumps({"contents": contents}))[0])
    assert summary.has_status_results and summary.status is DqmStatus.OTHER
    assert classify_pede_message(summary.pede_message) is (dqm_status != 300)
    answer = dqm_content.fairy_for(wf, f"{spec.dqm_folder}/statusResults")
    bins = parse_status_results(json.dumps(answer))
    if folder_name == "SiPixelAliHG":
        assert bins == StatusBins(None, None)
    else:
        assert bins == StatusBins(db_updated=outcome == "payload", vetoed=outcome == "vetoed")
    assert (
        dqm_content.dataset_name("Express", "E", "P", 7)
        == "/StreamExpress/E-P-Express-v7/ALCAPROMPT"
    )
