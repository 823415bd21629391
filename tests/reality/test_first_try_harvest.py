"""A harvest that wrote nothing at its first try, from the real shapes to the verdict.

WMStats keeps no job summary for a first-try success (WMCore ``JobStateMachine/ChangeState.py``),
so only the agent's task counts in ``AgentJobInfo`` (WMCore ``AnalyticsDataCollector``, task
level) say the harvest is over; and only a full listing of the harvest area made after that
report says it wrote nothing (WMCore ``AlcaHarvest.py`` copies files out before the job ends).
The requestcache answer below is ``tests/reality/test_wmstats.py``'s, written from WMCore's code;
the harvest area is a real folder. Both go through their spies, the scope the engine would
build, and the domain.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx2

from spyagency.domain.catalogue import load_catalogue
from spyagency.domain.facts import HarvestTaskCounts, NoHarvestFile
from spyagency.domain.knowledge import fold
from spyagency.domain.policy import Policy
from spyagency.domain.states import WorkflowState
from spyagency.engine.scoping import run_scope
from spyagency.spies.harvest_area import HarvestAreaSpy
from spyagency.spies.scope import PollScope
from spyagency.spies.wmstats import WmStatsSpy
from tests.domain.world import Story, judge
from tests.reality.test_wmstats import BASE, REQUESTCACHE, RUN
from tests.spies.fakes import NOW, facts_of, fixed_clock

PCC_TAG = "LumiPCC_Corrections_prompt"
STREAM = "ALCALumiPixelsCountsExpress"


def story() -> Story:
    """A stopped collisions run whose LumiPCC stream ran, with an earlier IOV covering it."""
    known = Story(run=RUN).ran(2).express(STREAM, "PromptCalibProdLumiPCC")
    return known.at(1).iov(PCC_TAG, since=1 << 32 | 1)


async def wmstats_observations(story: Story) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        path = request.url.path.removeprefix("/t0_reqmon/data/")
        if path == "requestcache":
            return httpx2.Response(200, text=json.dumps(REQUESTCACHE))
        return httpx2.Response(200, text=json.dumps({"result": [{}]}))

    scope = run_scope(story.knowledge().run(RUN), load_catalogue(), Policy())
    spy = WmStatsSpy(BASE, transport=httpx2.MockTransport(handler), clock=fixed_clock)
    async with spy:
        report = await spy.poll(PollScope(now=NOW, runs=(scope,)))
    tasks = facts_of(report, HarvestTaskCounts)
    assert [t.producer for t in tasks if t.stream == STREAM] == ["PromptCalibProdLumiPCC"]
    story.observations += report.observations


async def test_a_first_try_harvest_without_output_is_proven_no_payload(tmp_path: Path) -> None:
    known = story()
    await wmstats_observations(known)
    # The engine's scope now asks the harvest spy about LumiPCC's input tag.
    scope = run_scope(fold(known.observations).run(RUN), load_catalogue(), Policy())
    assert [h.input_tag for h in scope.finished_harvests] == ["LumiPCCCorrections_pcl"]
    (tmp_path / str(NOW.year)).mkdir()
    area = HarvestAreaSpy(tmp_path, clock=fixed_clock)
    report = await area.poll(PollScope(now=NOW, runs=(scope,), highest_known_run=RUN))
    assert [f.input_tag for f in facts_of(report, NoHarvestFile)] == ["LumiPCCCorrections_pcl"]
    known.observations += report.observations

    lumi = judge(known, 30).workflow("LumiPCC")
    assert lumi is not None and lumi.state is WorkflowState.NO_PAYLOAD, lumi.evidence


async def test_without_the_listing_the_same_report_proves_nothing() -> None:
    known = story()
    await wmstats_observations(known)
    lumi = judge(known, 3).workflow("LumiPCC")
    assert lumi is not None and lumi.state is WorkflowState.HARVESTING
