"""The Tier-0 data service spy against answers shaped by the real service's code.

Every file under ``fixtures/tier0/`` opens with a header naming the dmwm/t0wmadatasvc module
(``src/python/T0WmaDataSvc/Data*.py``) that produces its rows and the WMCore REST format that
puts them on the wire; the header is cut off before the answer is served.
"""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

from spyagency.domain.facts import (
    ExpressConfig,
    FirstConditionSafeRun,
    ItemProblem,
    PromptRecoSwitch,
    RecoReleased,
    StreamDone,
)
from spyagency.spies.failures import SchemaViolation
from spyagency.spies.scope import PollScope, RunScope, SpyReport
from spyagency.spies.tier0 import T0DataServiceSpy
from spyagency.spies.tier0_rows import parse_proc_version
from tests.spies.fakes import NOW, facts_of, fast_settings, fixed_clock

FIXTURES = Path(__file__).parent / "fixtures" / "tier0"
BASE = "http://t0.test/t0wmadatasvc/prod/"
RUN = 380000


def answer(name: str) -> str:
    """The fixture without its header comment."""
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines(keepends=True)
    return "".join(line for line in lines if not line.startswith("#"))


def service(files: dict[str, str]) -> httpx2.MockTransport:
    """Serves ``path`` or ``path?query`` from the named fixture; ``[]`` for anything else."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        path = request.url.path.rsplit("/", 1)[-1]
        query = request.url.query.decode()
        name = files.get(f"{path}?{query}") or files.get(path)
        if name is None:
            return httpx2.Response(200, text='{"result": [\n]}\n')
        return httpx2.Response(200, text=answer(name), headers={"Content-Type": "text/plain"})

    return httpx2.MockTransport(handler)


async def poll(files: dict[str, str], scope: PollScope) -> SpyReport:
    spy = T0DataServiceSpy(
        BASE,
        transport=service(files),
        clock=fixed_clock,
        settings=fast_settings(),
        discover_new_runs=False,
    )
    async with spy:
        return await spy.poll(scope)


STOPPED = PollScope(now=NOW, runs=(RunScope(RUN, stopped=True),), highest_known_run=RUN)
GLOBAL = {
    "firstconditionsaferun": "firstconditionsaferun_run.txt",
    "promptreco_status": "promptreco_status.txt",
    "reco_config": "reco_config.txt",
    "run_config": "run_config.txt",
    "express_config": "express_config.txt",
    "reco_config?run=380000": "reco_config.txt",
    # A stream not (yet) in run_stream_done counts 0 rows: [false].
    "run_stream_done": "run_stream_done_false.txt",
}


async def test_the_real_answers_yield_their_facts() -> None:
    files = {**GLOBAL, f"run_stream_done?run={RUN}&stream=Express": "run_stream_done_true.txt"}
    report = await poll(files, STOPPED)
    assert report.errors == []
    assert facts_of(report, FirstConditionSafeRun) == [FirstConditionSafeRun(380005)]
    assert facts_of(report, PromptRecoSwitch) == [PromptRecoSwitch(True)]
    express = {f.stream: f for f in facts_of(report, ExpressConfig)}
    assert set(express) == {"Express", "HLTMonitor", "CosmicHLTMonitor"}
    assert express["Express"].acq_era == "Run2026A"
    assert express["Express"].global_tag == "160X_dataRun3_Express_v2"
    assert express["Express"].proc_version == 1
    assert "PromptCalibProdSiPixelAliHGComb" in express["Express"].producers
    assert express["HLTMonitor"].producers == (
        "TkAlHLTTracks",
        "TkAlHLTTracksZMuMu",
        "PromptCalibProdSiPixelAliHLTHGC",
    )
    assert express["HLTMonitor"].proc_version == 2
    assert express["CosmicHLTMonitor"].producers == ()  # alca_skim null: no producers
    (released,) = facts_of(report, RecoReleased)
    assert released == RecoReleased(
        run=RUN, prompt_global_tag="160X_dataRun3_Prompt_v1", datasets=("JetMET0", "ZeroBias")
    )
    done = {f.stream: f.done for f in facts_of(report, StreamDone)}
    assert done == {"Express": True, "HLTMonitor": False, "CosmicHLTMonitor": False}


async def test_no_fcsr_while_reco_locked_is_empty() -> None:
    report = await poll(
        {**GLOBAL, "firstconditionsaferun": "firstconditionsaferun_null.txt"}, STOPPED
    )
    assert facts_of(report, FirstConditionSafeRun) == []
    assert report.errors == [] and report.ok


async def test_stream_not_done_until_every_subscription_is() -> None:
    report = await poll({**GLOBAL, "run_stream_done": "run_stream_done_false.txt"}, STOPPED)
    assert {f.done for f in facts_of(report, StreamDone)} == {False}
    assert report.ok


async def test_a_truncated_express_answer_is_a_problem_on_its_run_only() -> None:
    files = {**GLOBAL, f"express_config?run={RUN}": "express_config_truncated.txt"}
    report = await poll(files, STOPPED)
    assert report.ok  # the source itself is healthy
    (problem,) = facts_of(report, ItemProblem)
    assert (problem.run, problem.item, problem.stream) == (RUN, f"express_config?run={RUN}", None)
    assert "HLTMonitor" in next(o.raw for o in report.observations if o.fact == problem)
    assert facts_of(report, ExpressConfig) == []
    assert facts_of(report, FirstConditionSafeRun) == [FirstConditionSafeRun(380005)]


async def test_a_truncated_fcsr_is_a_source_failure() -> None:
    files = {**GLOBAL, "firstconditionsaferun": "express_config_truncated.txt"}
    report = await poll(files, STOPPED)
    assert not report.ok
    assert [e.url for e in report.source_errors] == [BASE + "firstconditionsaferun"]


@pytest.mark.parametrize(("raw", "expected"), [(3, 3), ("3", 3), ("v2", 2), (None, None)])
def test_proc_version_is_an_int_in_any_spelling(raw: object, expected: int | None) -> None:
    assert parse_proc_version({"proc_version": raw}) == expected


@pytest.mark.parametrize("raw", ["three", -1, True, "v", 1.5])
def test_proc_version_that_is_no_version_is_refused(raw: object) -> None:
    with pytest.raises(SchemaViolation):
        parse_proc_version({"proc_version": raw})
