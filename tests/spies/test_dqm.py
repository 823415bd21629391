from __future__ import annotations

from dataclasses import replace

import httpx2

from spyagency.domain.facts import DqmQuality
from spyagency.domain.iov import TimeType
from spyagency.domain.states import DqmStatus, Source
from spyagency.spies.dqm import DqmSpy
from spyagency.spies.scope import PollScope, RunScope, WorkflowScope
from tests.spies.fakes import NOW, FakeDqm, asgi, fast_settings, fixed_clock

BASE = "http://dqm.test/dqm/offline/"
ALI = WorkflowScope(
    "SiPixelAli",
    "PromptCalibProdSiPixelAli",
    ("SiPixelAli_pcl",),
    TimeType.RUN,
    ("SiPixelAli_PCL_v0_prompt",),
    "AlCaReco/SiPixelAli",
    ("Express",),
    harvest_mark=("file harvested u1",),  # harvested: DQM is asked
)
BS = WorkflowScope(
    "BeamSpotByRun",
    "PromptCalibProd",
    ("BeamSpotObject_ByRun",),
    TimeType.RUN,
    ("BS_prompt",),
    "AlCaReco/BeamSpot",
    ("Express",),
    harvest_mark=("file harvested u1",),  # harvested: DQM is asked
)
GAINS = WorkflowScope(
    "SiStripGains",
    "PromptCalibProdSiStripGains",
    ("SiStripApvGain_pcl",),
    TimeType.RUN,
    ("G",),
    "AlCaReco/SiStripGains",
    ("Express",),
    harvest_mark=("file harvested u1",),  # harvested: DQM is asked
)
NO_FOLDER = WorkflowScope(
    "LumiPCC",
    "PromptCalibProdLumiPCC",
    ("LumiPCC_pcl",),
    TimeType.LUMI,
    ("L",),
    None,
    ("ALCALumiPixelsCountsExpress",),
    harvest_mark=("file harvested u1",),  # harvested: DQM is asked
)


def run_scope(run: int, stopped: bool = True) -> RunScope:
    return RunScope(
        run,
        stopped,
        streams=("Express",),
        acq_era="Run2026A",
        workflows=(ALI, BS, GAINS, NO_FOLDER),
    )


async def test_quality_and_alignment_decision() -> None:
    fake = FakeDqm(
        {
            "380000/StreamExpress/Run2026A-PromptCalibProdSiPixelAli-Express-v1/ALCAPROMPT/"
            "AlCaReco/SiPixelAli": "dqm_sipixelali.json",
            "380000/StreamExpress/Run2026A-PromptCalibProd-Express-v1/ALCAPROMPT/"
            "AlCaReco/BeamSpot": "dqm_beamspot_legacy.txt",
        }
    )
    scope = PollScope(now=NOW, runs=(run_scope(380000), run_scope(380001, stopped=False)))
    async with DqmSpy(BASE, transport=asgi(fake.app()), clock=fixed_clock) as spy:
        report = await spy.poll(scope)
    assert report.errors == [] and report.source is Source.DQM
    found = {o.fact.workflow: o.fact for o in report.observations}  # type: ignore[union-attr]
    assert found["SiPixelAli"] == DqmQuality(
        run=380000,
        workflow="SiPixelAli",
        status=DqmStatus.ERROR,
        failed_tests=("XposInRange",),
        vetoed=True,
        db_updated=False,
        pede_exit_code=1,
    )
    # Legacy single-quoted answer, warning only.
    assert found["BeamSpotByRun"] == DqmQuality(380000, "BeamSpotByRun", DqmStatus.WARNING)
    assert "SiStripGains" not in found  # empty folder: nothing to say
    # Running run not asked; workflow without folder not asked.
    assert report.requests == fake.hits.count() == 3
    assert all("rootcontent=1" in p for p in fake.hits.paths)


async def test_faults_and_bad_objects() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        if "SiPixelAli" in path:
            return httpx2.Response(200, text="{'contents': [{'obj': 'x', 'qresults': [{'stat")
        if "BeamSpot" in path:
            bad = {"obj": "h1", "qresults": [{"name": "NoStatus"}]}
            good = {"obj": "h2", "qresults": [{"status": 100, "name": "Fine"}]}
            return httpx2.Response(200, json={"contents": [bad, good, "junk"]})
        return httpx2.Response(502, text="Bad Gateway")

    scope = PollScope(now=NOW, runs=(run_scope(380000),))
    spy = DqmSpy(
        BASE,
        transport=httpx2.MockTransport(handler),
        clock=fixed_clock,
        settings=fast_settings(attempts=1),
    )
    async with spy:
        report = await spy.poll(scope)
    assert [(o.fact.workflow, o.fact.status) for o in report.observations] == [  # type: ignore[union-attr]
        ("BeamSpotByRun", DqmStatus.OK)
    ]
    messages = sorted(e.message for e in report.errors)
    assert len(messages) == 3
    assert any("HTTP 502" in m for m in messages)
    assert any("invalid JSON" in m for m in messages)
    assert any("status" in m for m in messages)


async def test_run_without_era_or_unsafe_folder_is_not_requested() -> None:
    evil = WorkflowScope(
        "Evil",
        "PromptCalibProdX",
        ("x",),
        TimeType.RUN,
        ("t",),
        "AlCaReco/../../admin",
        ("Express",),
        harvest_mark=("file harvested u1",),  # harvested: DQM is asked
    )
    fake = FakeDqm()
    scope = PollScope(
        now=NOW,
        runs=(
            RunScope(380000, True, streams=("Express",), acq_era=None, workflows=(ALI,)),
            RunScope(380001, True, streams=("Express",), acq_era="Run2026A", workflows=(evil,)),
        ),
    )
    async with DqmSpy(BASE, transport=asgi(fake.app()), clock=fixed_clock) as spy:
        report = await spy.poll(scope)
    assert fake.hits.count() == 0
    (error,) = report.errors
    assert error.permanent and "unsafe" in error.message


ALI_FOLDER = (
    "380000/StreamExpress/Run2026A-PromptCalibProdSiPixelAli-Express-v1/ALCAPROMPT/"
    "AlCaReco/SiPixelAli"
)


def harvested_scope(mark: tuple[str, ...]) -> PollScope:
    workflow = replace(ALI, harvest_mark=mark)
    run = RunScope(380000, True, streams=("Express",), acq_era="Run2026A", workflows=(workflow,))
    return PollScope(now=NOW, runs=(run,))


async def test_a_folder_is_read_again_only_when_its_harvest_evidence_changes() -> None:
    fake = FakeDqm({ALI_FOLDER: "dqm_sipixelali.json"})
    first_harvest = harvested_scope(("file SiPixelAli_pcl u1",))
    reharvested = harvested_scope(("file SiPixelAli_pcl u1", "file SiPixelAli_pcl u2"))
    async with DqmSpy(BASE, transport=asgi(fake.app()), clock=fixed_clock) as spy:
        reports = [await spy.poll(first_harvest) for _ in range(4)]
        # Read twice alike (the second confirms the first), then not again: the harvest is
        # what changes a folder.
        assert fake.hits.count() == 2
        assert len(reports[0].observations) == len(reports[1].observations) == 1
        assert reports[2].observations == []
        for _ in range(3):  # cycles 4 to 6
            await spy.poll(reharvested)
        assert fake.hits.count() == 4  # a second harvest: read again, twice (4 and 5)
        for _ in range(DqmSpy.refresh_every - 2):  # up to cycle 5 + refresh_every - 1
            await spy.poll(reharvested)
        assert fake.hits.count() == 4
        await spy.poll(reharvested)  # the safety net: refresh_every cycles after the reading
        assert fake.hits.count() == 5
        for _ in range(DqmSpy.refresh_every - 1):  # an equal refresh renews it: quiet again
            await spy.poll(reharvested)
        assert fake.hits.count() == 5
    async with DqmSpy(BASE, transport=asgi(fake.app()), clock=fixed_clock) as restarted:
        await restarted.poll(reharvested)
    assert fake.hits.count() == 6  # a restart forgets what was read


async def test_folders_without_harvest_evidence_are_not_asked() -> None:
    fake = FakeDqm({})  # nothing harvested: the folder is empty
    async with DqmSpy(BASE, transport=asgi(fake.app()), clock=fixed_clock) as spy:
        for _ in range(DqmSpy.refresh_every + 1):
            await spy.poll(harvested_scope(()))
        assert fake.hits.count() == 0
        # Harvest evidence arrives, the folder is not filled yet: asked every cycle.
        for _ in range(3):
            await spy.poll(harvested_scope(("job Express success",)))
    assert fake.hits.count() == 3
