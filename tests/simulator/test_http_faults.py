"""Every HTTP fault kind, switched on at run time with POST /sim/faults, seen by a client."""

from __future__ import annotations

import ast
import json
import sqlite3
import time

import httpx2
import pytest

from spyagency.simulator.timefmt import iso_micro
from tests.simulator.conftest import LiveSim

HOUR = 3600.0
T0_RUNS = "/t0wmadatasvc/prod/run_config"
OMS_RUNS = "/agg/api/v1/runs"


def open_window(sim: LiveSim, kind: str, service: str | None = None, hours: float = 1.0) -> None:
    now = sim.clock.now()
    window = {"kind": kind, "start": iso_micro(now), "end": iso_micro(now + hours * HOUR)}
    if service is not None:
        window["service"] = service
    answer = sim.client.post(
        "/sim/faults",
        json={"windows": [window], "slow_delay_seconds": 0.3, "timeout_delay_seconds": 1.5},
    )
    assert answer.status_code == 200, answer.text


def close_window(sim: LiveSim, hours: float = 1.0) -> None:
    sim.set_time(sim.clock.now() + hours * HOUR + 1)


@pytest.fixture
def busy(live: LiveSim) -> LiveSim:
    live.at_hours(30)
    return live


def test_status_faults(busy: LiveSim) -> None:
    for kind, status in (("http_500", 500), ("http_503", 503), ("service_down", 503)):
        open_window(busy, kind, "t0")
        assert busy.get(T0_RUNS).status_code == status
        assert busy.get(OMS_RUNS).status_code == 200, "other services are unaffected"
        close_window(busy)
    assert busy.get(T0_RUNS).status_code == 200
    counts = busy.get("/sim/faults").json()["counts"]
    assert counts["http_500"] == counts["http_503"] == counts["service_down"] == 1


def test_slow_and_timeout(busy: LiveSim) -> None:
    open_window(busy, "slow", "oms")
    began = time.monotonic()
    assert busy.get(OMS_RUNS).status_code == 200
    assert time.monotonic() - began >= 0.3
    close_window(busy)
    open_window(busy, "timeout", "oms")
    with pytest.raises(httpx2.TimeoutException):
        busy.client.get(OMS_RUNS, timeout=0.5)
    close_window(busy)


def test_connection_reset(busy: LiveSim) -> None:
    open_window(busy, "reset", "wmstats")
    with pytest.raises(httpx2.TransportError):
        busy.get("/t0_reqmon/data/requestcache")
    close_window(busy)
    assert busy.get("/t0_reqmon/data/requestcache").status_code == 200


def test_broken_bodies(busy: LiveSim) -> None:
    normal = busy.get(T0_RUNS).content
    open_window(busy, "malformed_json", "t0")
    broken = busy.get(T0_RUNS)
    assert broken.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.content)
    close_window(busy)
    open_window(busy, "truncated_json", "t0")
    cut = busy.get(T0_RUNS).content
    assert normal.startswith(cut) and len(cut) < len(normal)
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut)
    close_window(busy)


def test_legacy_single_quoted_dqm(busy: LiveSim) -> None:
    run = next(r for r in busy.world.plan if r.has_express_data and r.run_class == "collisions")
    url = (
        f"/dqm/offline/data/json/archive/{run.number}/StreamExpress/"
        "Run2026A-PromptCalibProdSiStripGains-Express-v1/ALCAPROMPT/AlCaReco"
    )
    open_window(busy, "legacy_quotes", "dqm")
    text = busy.get(url, rootcontent=1).text
    assert "'contents'" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    assert ast.literal_eval(text)["contents"]
    assert busy.get(T0_RUNS).json()["result"], "legacy quoting only ever hits the DQM GUI"
    close_window(busy)


def test_shape_drift(busy: LiveSim) -> None:
    normal = busy.get(T0_RUNS).json()["result"]
    open_window(busy, "extra_fields", "t0")
    extra = busy.get(T0_RUNS).json()
    assert all("sim_unexpected" in row for row in extra["result"])
    close_window(busy)
    open_window(busy, "missing_fields", "t0")
    missing = busy.get(T0_RUNS).json()["result"]
    assert len(missing) == len(normal)
    assert all(len(m) < len(n) for m, n in zip(missing, normal, strict=True))
    close_window(busy)


def test_random_rates_and_bad_requests(busy: LiveSim) -> None:
    busy.client.post("/sim/faults", json={"service_rates": {"oms": {"http_500": 1.0}}})
    assert busy.get(OMS_RUNS).status_code == 500
    busy.client.post("/sim/faults", json={"service_rates": {"oms": {"http_500": 0.0}}})
    assert busy.get(OMS_RUNS).status_code == 200
    assert busy.client.post("/sim/faults", json={"http_rates": {"nope": 1}}).status_code == 400


def test_conddb_locked_then_unreadable(busy: LiveSim) -> None:
    path = busy.world.condb.path
    open_window(busy, "condb_locked")
    busy.set_time(busy.clock.now() + 1)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        sqlite3.connect(path, timeout=0.1).execute("SELECT COUNT(*) FROM IOV").fetchone()
    close_window(busy)
    sqlite3.connect(path, timeout=0.1).execute("SELECT COUNT(*) FROM IOV").fetchone()
    open_window(busy, "condb_unreadable")
    busy.set_time(busy.clock.now() + 1)
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        sqlite3.connect(path).execute("SELECT COUNT(*) FROM IOV").fetchone()
    close_window(busy)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM IOV").fetchone()[0] > 0
    conn.close()
    truth = busy.get("/sim/truth").json()
    kinds = {f["kind"] for f in truth["faults"]}
    assert {"window:condb_locked", "window:condb_unreadable"} <= kinds


def test_promptreco_switch(live: LiveSim) -> None:
    run = live.world.plan[0]
    live.set_time(run.stop + 47 * HOUR)
    open_window(live, "promptreco_off", hours=3)
    assert live.get("/t0wmadatasvc/prod/promptreco_status").json() == {"result": [False]}
    live.set_time(run.stop + 49 * HOUR)
    assert live.world.releaser.records[run.number].lock_time is None, "nothing locks while off"
    live.set_time(run.stop + 51 * HOUR)
    record = live.world.releaser.records[run.number]
    assert record.release_time is not None
    assert record.lock_time is not None and record.lock_time >= run.stop + 50 * HOUR
    assert live.get("/t0wmadatasvc/prod/promptreco_status").json() == {"result": [True]}
