"""The DQM spy against answers shaped by the real producers' code.

Every file under ``fixtures/dqm/`` opens with a header comment naming the code that produces
its shape (dqmgui_prod ``serverext.cc`` and ``render.cc``, cmssw ``MillePedeDQMModule.cc`` and
``MillePedeFileReader.cc``); the header is cut off before the answer is served.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx2

from spyagency.domain.facts import DqmQuality, ItemProblem
from spyagency.domain.iov import TimeType
from spyagency.domain.states import DqmStatus, Source
from spyagency.spies.dqm import DqmSpy
from spyagency.spies.scope import PollScope, RunScope, SpyReport, WorkflowScope
from tests.spies.fakes import NOW, fast_settings, fixed_clock

FIXTURES = Path(__file__).parent / "fixtures" / "dqm"
BASE = "http://dqm.test/dqm/offline/"
RUN = 380000
DATASET = "StreamExpress/Run2026A-{producer}-Express-v3/ALCAPROMPT"
MARK = ("file harvested u1",)


def answer(name: str) -> str:
    """The fixture without its header comment."""
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines(keepends=True)
    while lines and (lines[0].startswith("#") or not lines[0].strip()):
        lines.pop(0)
    return "".join(lines)


def workflow(name: str, producer: str, folder: str) -> WorkflowScope:
    return WorkflowScope(
        name, producer, (f"{name}_pcl",), TimeType.RUN, ("T",), folder, ("Express",), MARK
    )


ALI = workflow("SiPixelAli", "PromptCalibProdSiPixelAli", "AlCaReco/SiPixelAli")
ALI_HG = workflow("SiPixelAliHG", "PromptCalibProdSiPixelAliHG", "AlCaReco/SiPixelAliHG")
BEAMSPOT = workflow("BeamSpotByRun", "PromptCalibProd", "AlCaReco/BeamSpot")


def folder_url(wf: WorkflowScope) -> str:
    dataset = DATASET.format(producer=wf.producer)
    return f"/dqm/offline/data/json/archive/{RUN}/{dataset}/{wf.dqm_folder}"


def fairy_url(wf: WorkflowScope) -> str:
    dataset = DATASET.format(producer=wf.producer)
    return f"/dqm/offline/jsonfairy/archive/{RUN}/{dataset}/{wf.dqm_folder}/statusResults"


@dataclass
class Gui:
    """URL path -> fixture; anything else is an empty folder, as the GUI answers."""

    answers: dict[str, str] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        self.paths.append(f"{request.url.path}?{request.url.query.decode()}")
        name = self.answers.get(request.url.path)
        if name is None:
            return httpx2.Response(200, text='{"contents": []}')
        return httpx2.Response(200, text=answer(name))


async def poll(gui: Gui, *workflows: WorkflowScope) -> SpyReport:
    run = RunScope(
        RUN,
        True,
        streams=("Express",),
        acq_era="Run2026A",
        proc_versions=(("Express", 3),),
        workflows=workflows,
    )
    spy = DqmSpy(
        BASE,
        transport=httpx2.MockTransport(gui.handler),
        clock=fixed_clock,
        settings=fast_settings(attempts=1),
    )
    async with spy:
        return await spy.poll(PollScope(now=NOW, runs=(run,)))


def facts(report: SpyReport) -> dict[str, DqmQuality]:
    return {o.fact.workflow: o.fact for o in report.observations if isinstance(o.fact, DqmQuality)}


async def test_sipixelali_db_updated_with_pede_ended_normally() -> None:
    gui = Gui(
        {
            folder_url(ALI): "sipixelali_folder.txt",
            fairy_url(ALI): "sipixelali_status_db_updated.json",
        }
    )
    report = await poll(gui, ALI)
    assert report.errors == []
    assert facts(report)["SiPixelAli"] == DqmQuality(
        run=RUN,
        workflow="SiPixelAli",
        status=DqmStatus.OTHER,  # no quality tests in PCL folders
        vetoed=False,
        db_updated=True,
        alignment_read=True,
        pede_message="    0   Ended normally",
        pede_ok=True,
    )
    # The dataset carries the express proc_version; the bins come from one jsonfairy request.
    assert gui.paths == [
        folder_url(ALI) + "?rootcontent=1",
        fairy_url(ALI) + "?formatted=false",
    ]


async def test_sipixelali_vetoed() -> None:
    gui = Gui(
        {folder_url(ALI): "sipixelali_folder.txt", fairy_url(ALI): "sipixelali_status_vetoed.json"}
    )
    fact = facts(await poll(gui, ALI))["SiPixelAli"]
    assert (fact.vetoed, fact.db_updated, fact.alignment_read) == (True, False, True)


async def test_high_granularity_grid_is_read_without_a_decision() -> None:
    gui = Gui(
        {
            folder_url(ALI_HG): "sipixelalihg_folder.txt",
            fairy_url(ALI_HG): "sipixelalihg_status_grid.json",
        }
    )
    report = await poll(gui, ALI_HG)
    assert report.errors == []
    assert facts(report)["SiPixelAliHG"] == DqmQuality(
        run=RUN,
        workflow="SiPixelAliHG",
        status=DqmStatus.OTHER,
        alignment_read=True,
        pede_message="    1   Ended with warnings (bad measurements)",
        pede_ok=True,
    )


async def test_pede_aborted_and_unclassifiable_messages() -> None:
    for fixture, ok, message in (
        (
            "sipixelali_folder_pede_aborted.txt",
            False,
            "   29   Aborted, factorization of global matrix failed",
        ),
        ("sipixelali_folder_no_end_file.txt", None, "no exit code found"),
    ):
        gui = Gui({folder_url(ALI): fixture, fairy_url(ALI): "sipixelali_status_db_updated.json"})
        fact = facts(await poll(gui, ALI))["SiPixelAli"]
        assert (fact.pede_message, fact.pede_ok, fact.alignment_read) == (message, ok, True)


async def test_value_with_a_raw_backslash_is_recovered() -> None:
    gui = Gui(
        {
            folder_url(ALI): "sipixelali_folder_backslash.txt",
            fairy_url(ALI): "sipixelali_status_db_updated.json",
        }
    )
    report = await poll(gui, ALI)
    assert report.errors == []
    fact = facts(report)["SiPixelAli"]
    assert fact.pede_message == (
        "   15   Aborted, open error(s) for binary files milleBinary\\001.dat"
    )
    assert fact.pede_ok is False and fact.db_updated is True


async def test_beamspot_folder_without_quality_tests_strict_and_legacy() -> None:
    for fixture in ("beamspot_folder.txt", "beamspot_folder_legacy.txt"):
        gui = Gui({folder_url(BEAMSPOT): fixture})
        report = await poll(gui, BEAMSPOT)
        assert report.errors == [], fixture
        assert facts(report) == {"BeamSpotByRun": DqmQuality(RUN, "BeamSpotByRun", DqmStatus.OTHER)}
        assert len(gui.paths) == 1  # no statusResults: no jsonfairy request


async def test_truncated_answer_is_an_item_problem_and_the_source_stays_ok() -> None:
    gui = Gui(
        {
            folder_url(ALI): "sipixelali_folder_truncated.txt",
            folder_url(BEAMSPOT): "beamspot_folder.txt",
        }
    )
    report = await poll(gui, ALI, BEAMSPOT)
    assert report.ok and report.source is Source.DQM
    assert set(facts(report)) == {"BeamSpotByRun"}
    (problem,) = [o.fact for o in report.observations if isinstance(o.fact, ItemProblem)]
    assert problem.run == RUN and problem.workflow == "SiPixelAli"
    assert problem.item == folder_url(ALI).removeprefix("/dqm/offline/")
    assert "truncated" in problem.message
    (error,) = report.errors
    assert error.run == RUN
