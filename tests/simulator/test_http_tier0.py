"""Tier-0 data service endpoints over real HTTP, against docs/protocols.md."""

from __future__ import annotations

from typing import Any

import pytest

from spyagency.simulator.world_events import stream_done_at
from tests.simulator.conftest import LiveSim

EXPRESS_FIELDS = {
    "run",
    "stream",
    "cmssw",
    "scram_arch",
    "reco_cmssw",
    "reco_scram_arch",
    "alca_skim",
    "dqm_seq",
    "global_tag",
    "scenario",
    "proc_version",
    "multicore",
    "write_tiers",
    "write_dqm",
}
RECO_FIELDS = {
    "run",
    "primary_dataset",
    "cmssw",
    "global_tag",
    "scram_arch",
    "multicore",
    "write_reco",
    "write_dqm",
    "write_aod",
    "write_miniaod",
    "write_nanoaod",
    "alca_skim",
    "physics_skim",
    "dqm_seq",
    "scenario",
    "proc_version",
}
T0 = "/t0wmadatasvc/prod"


def result(sim: LiveSim, path: str, **params: object) -> list[Any]:
    response = sim.get(f"{T0}/{path}", **params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"result"}
    assert isinstance(body["result"], list)
    rows: list[Any] = body["result"]
    return rows


def test_hello_and_status(live_day: LiveSim) -> None:
    assert result(live_day, "hello") == ["world"]
    assert result(live_day, "promptreco_status") == [True]
    (fcsr,) = result(live_day, "firstconditionsaferun")
    assert isinstance(fcsr, int)
    history = result(live_day, "global_tag_history")
    assert history and "reco_global_tag" in history[0]


@pytest.mark.parametrize("bad", ["0", "abc", "012345", "12345678", "-5", "1"])
def test_bad_run_numbers_answer_400(live_day: LiveSim, bad: str) -> None:
    for path in ("run_config", "express_config", "run_stream_done", "reco_config"):
        assert live_day.get(f"{T0}/{path}", run=bad, stream="Express").status_code == 400


def test_unknown_run_answers_empty(live_day: LiveSim) -> None:
    assert result(live_day, "run_config", run=999999) == []
    # run_stream_done compares a count of rows with 1: an unknown run or stream is [false].
    assert result(live_day, "run_stream_done", run=999999, stream="Express") == [False]
    run = max(live_day.world.started)
    assert result(live_day, "run_stream_done", run=run, stream="NoSuchStream") == [False]


def test_run_config_answers_the_latest_run_or_the_run_asked(live: LiveSim) -> None:
    """As the real service: without ``run`` only the highest run, so the answer stays small."""
    assert result(live, "run_config") == []  # before the first run
    first, second = live.world.plan[0], live.world.plan[1]
    live.set_time(first.start + 1)
    assert result(live, "run_config") == [{"run": first.number, "acq_era": "Run2026A"}]
    live.set_time(second.start + 1)
    assert result(live, "run_config") == [{"run": second.number, "acq_era": "Run2026A"}]
    assert result(live, "run_config", run=first.number) == [
        {"run": first.number, "acq_era": "Run2026A"}
    ]
    assert result(live, "run_config", run=max(r.number for r in live.world.plan)) == []


def test_run_and_express_config(live_day: LiveSim) -> None:
    world = live_day.world
    (latest,) = result(live_day, "run_config")
    assert latest == {"run": max(world.started), "acq_era": "Run2026A"}
    collision = next(r for r in world.plan if r.run_class == "collisions")
    express = result(live_day, "express_config", run=collision.number)
    streams = {r["stream"] for r in express}
    assert streams == {"Express", "ExpressAlignment", "Calibration", "ALCALumiPixelsCountsExpress"}
    for row in express:
        assert set(row) == EXPRESS_FIELDS
    (row,) = result(live_day, "express_config", run=collision.number, stream="Express")
    skims = row["alca_skim"].split(",")
    assert "PromptCalibProdSiStripGains" in skims and "TkAlMinBias" in skims
    cosmics = next(r for r in world.plan if r.run_class == "cosmics")
    (cosmic_row,) = result(live_day, "express_config", run=cosmics.number)
    assert cosmic_row["stream"] == "ExpressCosmics"


def test_stream_done_reco_config_and_dataset_done_follow_time(live: LiveSim) -> None:
    run = next(
        r
        for r in live.world.plan
        if r.has_express_data
        and r.run_class == "collisions"
        and stream_done_at(next(s for s in r.streams if s.stream == "Express")) is not None
    )
    live.set_time(run.start + 60)
    assert result(live, "run_config", run=run.number) == [
        {"run": run.number, "acq_era": "Run2026A"}
    ]
    assert result(live, "run_stream_done", run=run.number, stream="Express") == [False]
    assert result(live, "reco_config", run=run.number) == []
    assert result(live, "firstconditionsaferun") == [live.world.plan[0].number]
    stream = next(s for s in run.streams if s.stream == "Express")
    done_at = stream_done_at(stream)
    assert done_at is not None and done_at > stream.express_done_at
    # Express being done is not enough: the harvest and its uploads must finish first.
    live.set_time(stream.express_done_at + 1)
    assert result(live, "run_stream_done", run=run.number, stream="Express") == [False]
    live.set_time(done_at + 1)
    assert result(live, "run_stream_done", run=run.number, stream="Express") == [True]
    assert result(live, "run_dataset_done", run=run.number) == [False]
    live.set_time(run.stop + 48 * 3600 + 1)
    rows = result(live, "reco_config", run=run.number)
    assert {r["primary_dataset"] for r in rows} == {"EGamma0", "JetMET0", "Muon0", "ZeroBias"}
    assert all(set(r) == RECO_FIELDS for r in rows)
    assert {r["global_tag"] for r in rows} == {"140X_dataRun3_Prompt_v3"}
    (fcsr,) = result(live, "firstconditionsaferun")
    assert isinstance(fcsr, int) and fcsr > run.number
    live.set_time(live.clock.now() + 40 * 3600)
    assert result(live, "run_dataset_done", run=run.number, primary_dataset="ZeroBias") == [True]
    assert result(live, "run_dataset_done", run=run.number, primary_dataset="Nope") == []
