"""OMS, upload-service logs, DQM GUI JSON and WMStats over real HTTP (docs/protocols.md)."""

from __future__ import annotations

import json

from spyagency.simulator.dqm_content import dataset_name
from spyagency.simulator.http_oms import local_runs
from spyagency.simulator.plan import RunPlan
from spyagency.simulator.uploads import TOO_LATE_WORDING
from spyagency.simulator.wmstats_content import (
    HARVEST_FAILURE_EXIT,
    NO_OUTPUT_LFN,
    harvest_task,
    log_collect_task,
    producer_jobs,
    retried,
    stream_plan,
)
from tests.simulator.conftest import LiveSim

OMS = "/agg/api/v1/runs"


def first_run(sim: LiveSim, run_class: str = "collisions") -> RunPlan:
    return next(r for r in sim.world.plan if r.run_class == run_class and r.has_express_data)


def test_oms_runs_json_api(live_day: LiveSim) -> None:
    started = live_day.world.started
    local = dict(local_runs(live_day.world))
    # OMS lists the MiniDAQ/local runs the Tier-0 never sees alongside the global runs.
    assert local and not set(local) & set(started)
    listed = sorted([*started, *(n for n in local if n >= started[0])])
    body = live_day.get(
        OMS, **{"filter[run_number][GE]": started[0], "page[limit]": 3, "sort": "run_number"}
    ).json()
    assert set(body) == {"data", "links", "meta"}
    assert body["meta"]["totalResourceCount"] == len(listed)
    assert [d["id"] for d in body["data"]] == [str(n) for n in listed[:3]]
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
    assert attrs["sequence"] == "GLOBAL-RUN" and attrs["tier0_transfer"] is True
    assert attrs["start_time"].endswith("Z") and attrs["end_time"].endswith("Z")
    assert attrs["class"] in ("Collisions26", "Cosmics26")
    assert isinstance(attrs["components"], list)
    follow = live_day.client.get(body["links"]["next"]).json()
    assert [d["id"] for d in follow["data"]] == [str(n) for n in listed[3:6]]
    by_id = {d["id"]: d["attributes"] for d in body["data"] + follow["data"]}
    for number in listed[:6]:
        if number in local:
            assert by_id[str(number)]["sequence"] == "MINIDAQ"
            assert by_id[str(number)]["tier0_transfer"] is False
    newest = live_day.get(OMS, sort="-run_number", **{"page[limit]": 1}).json()
    assert newest["data"][0]["id"] == str(max(listed))
    one = live_day.get(OMS, **{"filter[run_number][EQ]": started[2]}).json()
    assert [d["id"] for d in one["data"]] == [str(started[2])]
    window = live_day.get(
        OMS, **{"filter[run_number][GE]": started[1], "filter[run_number][LE]": started[3]}
    ).json()
    in_window = [n for n in listed if started[1] <= n <= started[3]]
    assert window["meta"]["totalResourceCount"] == len(in_window)
    assert [d["id"] for d in window["data"]] == [str(n) for n in in_window]


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
    # As WMCore: name, run, status and its history, and the agents' job counts; no request
    # type and no stream.
    assert set(entry) == {
        "RequestName",
        "Run",
        "RequestStatus",
        "RequestTransition",
        "AgentJobInfo",
    }
    assert entry["RequestName"] == name
    assert entry["RequestStatus"] == "completed" and entry["Run"] == run.number
    assert [t["Status"] for t in entry["RequestTransition"]][:2] == ["new", "Closed"]
    jobs = world.harvest_jobs[name]
    (agent,) = entry["AgentJobInfo"].values()
    assert agent["workflow"] == name and agent["type"] == "agent_request"
    # Counted per producer's job, first-try successes included (the agent's job database).
    express = stream_plan(world.runs, name)
    assert express is not None
    ended = producer_jobs(express, jobs)
    assert agent["status"]["success"] == sum(not j.failed for j in ended)
    assert set(agent["tasks"]) == {harvest_task(name, "Express", j.producer) for j in ended}

    # jobdetail: task -> state -> exit code -> site -> {errorCount, samples}; a job leaves a
    # summary only when it failed or succeeded after a retry.
    summarised = 0
    for request, request_jobs in world.harvest_jobs.items():
        stream = stream_plan(world.runs, request)
        assert stream is not None
        expected: dict[tuple[str, str, str], int] = {}
        for job in producer_jobs(stream, request_jobs):
            task = harvest_task(request, stream.stream, job.producer)
            assert task == (
                f"/{request}/Express/ExpressAlcaSkimwrite_Stream{stream.stream}_ALCARECO/"
                f"ExpressAlcaSkimwrite_Stream{stream.stream}_ALCARECO"
                f"AlcaHarvestALCARECOStream{job.producer}"
            )
            if job.failed:
                key = (task, "jobfailed", str(HARVEST_FAILURE_EXIT))
            elif retried(job.uuid, task):
                key = (task, "success", "0")
            else:
                key = None
            if key is not None:
                expected[key] = expected.get(key, 0) + 1
        detail = live_day.get(f"/t0_reqmon/data/jobdetail/{request}").json()
        (row,) = detail["result"]
        tasks = row.get(request, {})
        assert row == ({request: tasks} if tasks else {})
        for (task, state, code), count in expected.items():
            bucket = tasks[task][state][code]["T0_CH_CERN"]
            assert set(bucket) == {"errorCount", "samples"}
            assert bucket["errorCount"] == count
            (sample,) = bucket["samples"]
            assert sample["task"] == task and sample["state"] == state
            assert sample["workflow"] == request and sample["exitcode"] == int(code)
            if state == "success":
                lfns = [o["lfn"] for o in sample["output"] if o["type"] == "output"]
                assert lfns == [NO_OUTPUT_LFN] or any(lfn.endswith(".db") for lfn in lfns)
            summarised += 1
        harvest_tasks = {t for t in tasks if "LogCollect" not in t}
        assert harvest_tasks == {task for task, _, _ in expected}
    assert summarised, "no harvest job left a summary in the whole day"

    # A request whose jobs all succeeded first time has no document; unknown ones neither.
    first_try = [
        request
        for request, request_jobs in world.harvest_jobs.items()
        if (stream := stream_plan(world.runs, request)) is not None
        and all(
            not job.failed
            and not retried(job.uuid, harvest_task(request, stream.stream, job.producer))
            and not retried(job.uuid, log_collect_task(request, stream.stream, job.producer))
            for job in producer_jobs(stream, request_jobs)
        )
    ]
    for request in first_try:
        body = live_day.get(f"/t0_reqmon/data/jobdetail/{request}").json()
        assert body == {"result": [{}]}
    unknown = live_day.get("/t0_reqmon/data/jobdetail/Express_Run1_StreamX").json()
    assert unknown == {"result": [{}]}
    no_data = next(
        (r for r in world.plan if not r.has_express_data and r.number in world.started), None
    )
    if no_data is not None:
        nd = entries[f"Express_Run{no_data.number}_StreamExpress"]
        assert nd["RequestStatus"] == "completed"
        # No data: every harvest task's subscription finished empty, no job counted.
        (agent,) = nd["AgentJobInfo"].values()
        assert agent["tasks"] and all(
            "status" not in task and task["subscription_status"]["finished"] == 1
            for task in agent["tasks"].values()
        )
    json.dumps(cache)
