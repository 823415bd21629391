"""OMS, upload-service logs, DQM GUI JSON and WMStats over real HTTP (DOMAIN.md 5.2-5.7)."""

from __future__ import annotations

import json

from spyagency.simulator.dqm_content import dataset_name
from spyagency.simulator.plan import RunPlan
from spyagency.simulator.uploads import TOO_LATE_WORDING
from tests.simulator.conftest import LiveSim

OMS = "/agg/api/v1/runs"


def first_run(sim: LiveSim, run_class: str = "collisions") -> RunPlan:
    return next(r for r in sim.world.plan if r.run_class == run_class and r.has_express_data)


def test_oms_runs_json_api(live_day: LiveSim) -> None:
    started = live_day.world.started
    body = live_day.get(
        OMS, **{"filter[run_number][GE]": started[0], "page[limit]": 3, "sort": "run_number"}
    ).json()
    assert set(body) == {"data", "links", "meta"}
    assert body["meta"]["totalResourceCount"] == len(started)
    assert [d["id"] for d in body["data"]] == [str(n) for n in started[:3]]
    item = body["data"][0]
    assert item["type"] == "runs"
    attrs = item["attributes"]
    for key in (
        "run_number",
        "fill_number",
        "start_time",
        "end_time",
        "duration",
        "stable_beam",
        "b_field",
        "energy",
        "sequence",
        "hlt_key",
        "l1_key",
        "components",
        "recorded_lumi",
        "tier0_transfer",
        "class",
    ):
        assert key in attrs
    assert attrs["sequence"] == "GLOBAL-RUN"
    assert attrs["start_time"].endswith("Z") and attrs["end_time"].endswith("Z")
    assert attrs["class"] in ("Collisions26", "Cosmics26")
    assert isinstance(attrs["components"], list)
    follow = live_day.client.get(body["links"]["next"]).json()
    assert [d["id"] for d in follow["data"]] == [str(n) for n in started[3:6]]
    newest = live_day.get(OMS, sort="-run_number", **{"page[limit]": 1}).json()
    assert newest["data"][0]["id"] == str(started[-1])
    one = live_day.get(OMS, **{"filter[run_number][EQ]": started[2]}).json()
    assert [d["id"] for d in one["data"]] == [str(started[2])]
    window = live_day.get(
        OMS, **{"filter[run_number][GE]": started[1], "filter[run_number][LE]": started[3]}
    ).json()
    assert window["meta"]["totalResourceCount"] == 3


def test_oms_end_time_null_while_running(live: LiveSim) -> None:
    run = live.world.plan[0]
    live.set_time(run.start + 30)
    (item,) = live.get(OMS).json()["data"]
    assert item["attributes"]["end_time"] is None
    live.set_time(run.stop + 1)
    (first, *_) = live.get(OMS).json()["data"]
    assert first["attributes"]["end_time"] is not None
    assert first["attributes"]["b_field"] in (3.8, 0.0)


def test_upload_log_appears_and_finishes(live: LiveSim) -> None:
    run = first_run(live)
    out = run.all_outputs()[0]
    live.set_time(out.created_at + 1)
    record = live.world.files[out.key]
    url = "/logs/dropBox/getFileLog"
    # The service answers plain text, and 500 for a hash it does not know (yet).
    assert live.get(url, fileHash=record.file_hash).status_code == 500
    live.set_time(out.upload_at + 0.5)
    processing = live.get(url, fileHash=record.file_hash)
    assert processing.status_code == 200
    assert "2999" in processing.text and "4999" not in processing.text
    live.set_time(out.upload_at + out.processing_s + 1)
    log = live.get(url, fileHash=record.file_hash).text
    assert "4999" in log
    assert len(log.splitlines()) >= 4
    assert TOO_LATE_WORDING not in log


def test_dqm_archive_json(live_day: LiveSim) -> None:
    world = live_day.world
    run = first_run(live_day)
    express = next(s for s in run.streams if s.stream == "Express")
    assert express.harvest is not None
    ali = next(w for w in express.harvest.workflows if w.workflow.name == "SiPixelAli")
    dataset = dataset_name("Express", "Run2026A", "PromptCalibProdSiPixelAli")
    assert dataset == "/StreamExpress/Run2026A-PromptCalibProdSiPixelAli-Express-v1/ALCAPROMPT"
    base = f"/dqm/offline/data/json/archive/{run.number}{dataset}"
    top = live_day.get(f"{base}/AlCaReco", rootcontent=1).json()
    assert {"subdir": "SiPixelAli"} in top["contents"]
    body = live_day.get(f"{base}/AlCaReco/SiPixelAli", rootcontent=1).json()
    # As the GUI's objectToJSON: a streamer entry first, ROOT objects only as rootobj hex,
    # PedeExitCode a STRING message, and no quality tests in a harvesting folder.
    objects = {c["obj"]: c for c in body["contents"] if "obj" in c}
    assert {"statusResults", "PedeExitCode", "BinariesFound"} <= set(objects)
    status = objects["statusResults"]
    assert status["properties"]["type"] == "TH2F"
    assert "bins" not in status and set(status["rootobj"]) <= set("0123456789abcdef")
    assert objects["PedeExitCode"]["properties"]["type"] == "STRING"
    assert isinstance(objects["PedeExitCode"]["value"], str)
    assert all(not c.get("qresults") for c in objects.values())
    fairy_path = f"/dqm/offline/jsonfairy/archive/{run.number}{dataset}/AlCaReco/SiPixelAli"
    fairy = live_day.get(f"{fairy_path}/statusResults", formatted="false").json()
    labels = [label["value"] for label in fairy["hist"]["xaxis"]["labels"]]
    (row,) = fairy["hist"]["bins"]["content"]
    bins = dict(zip(labels, row, strict=True))
    assert bins["DB update vetoed"] == int(ali.outcome == "vetoed")
    assert bins["DB updated"] == int(ali.outcome == "payload")
    unknown = live_day.get(f"/dqm/offline/data/json/archive/1{dataset}/AlCaReco", rootcontent=1)
    assert unknown.json() == {"contents": []}
    assert world.runs[run.number].number == run.number


def test_wmstats_requestcache_and_jobdetail(live_day: LiveSim) -> None:
    world = live_day.world
    cache = live_day.get("/t0_reqmon/data/requestcache").json()
    (entries,) = cache["result"]
    run = first_run(live_day)
    name = f"Express_Run{run.number}_StreamExpress"
    entry = entries[name]
    assert set(entry) == {
        "RequestName",
        "RequestType",
        "RequestStatus",
        "Run",
        "Stream",
        "RequestTransition",
    }
    assert entry["RequestStatus"] == "completed" and entry["Run"] == run.number
    assert [t["Status"] for t in entry["RequestTransition"]][:2] == ["new", "Closed"]
    detail = live_day.get(f"/t0_reqmon/data/jobdetail/{name}").json()
    (tasks,) = detail["result"][0].values()
    (path,) = tasks
    assert path.split("/")[-1].startswith("AlcaHarvest")
    samples = tasks[path]["success"]["0"]["samples"]
    lfns = [o["lfn"] for s in samples for o in s["output"]]
    produced = {
        f.out.spec.input_tag
        for f in world.files.values()
        if f.out.run == run.number and f.out.stream == "Express"
    }
    for tag in produced:
        assert any(f"@{tag}@" in lfn and lfn.endswith(".db") for lfn in lfns)
    assert live_day.get("/t0_reqmon/data/jobdetail/Express_Run1_StreamX").json() == {"result": []}
    no_data = next(
        (r for r in world.plan if not r.has_express_data and r.number in world.started), None
    )
    if no_data is not None:
        nd = entries[f"Express_Run{no_data.number}_StreamExpress"]
        assert nd["RequestStatus"] == "completed"
    json.dumps(cache)
