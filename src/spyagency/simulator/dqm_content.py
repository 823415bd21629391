"""DQM GUI JSON for the ALCAPROMPT datasets (rovere/dqmgui VisDQMToJSON shape, DOMAIN.md 5.6)."""

from __future__ import annotations

from typing import Any

from spyagency.simulator.plan import RunPlan, WorkflowPlan

QTEST_NAMES = {100: "OK", 200: "WARNING", 300: "ERROR", 70: "insufficient statistics"}
ALIGNMENT_BINS = (
    "DB updated",
    "significant movement",
    "DB update vetoed",
    "within max movement",
    "within max error",
    "above significance",
)


def dataset_name(stream: str, acq_era: str, producer: str) -> str:
    return f"/Stream{stream}/{acq_era}-{producer}-Express-v1/ALCAPROMPT"


def _report(status: int) -> dict[str, int]:
    return {
        "alarm": int(status >= 300),
        "error": int(status == 300),
        "warn": int(status == 200),
        "other": int(status not in (100, 200, 300)),
    }


def _qresult(status: int, name: str) -> dict[str, Any]:
    return {
        "status": status,
        "result": {100: 1.0, 200: 0.6, 300: 0.1}.get(status, 0.0),
        "name": name,
        "algorithm": "ContentsWithinExpected",
        "message": f"{name}: {QTEST_NAMES.get(status, 'other')}",
    }


def _quality_object(folder: str, wf: WorkflowPlan, entries: int) -> dict[str, Any]:
    status = 70 if wf.outcome == "no_payload" else wf.dqm_status
    return {
        "obj": f"{wf.workflow.name}_summary",
        "path": f"{folder}/{wf.workflow.name}_summary",
        "properties": {"kind": "ROOT", "type": "TH1F", "report": _report(status)},
        "qresults": [_qresult(status, f"{wf.workflow.name}QualityTest")],
        "nentries": entries,
        "stats": {"nentries": entries, "mean": [1.0, 0.0], "rms": [0.1, 0.0]},
    }


def _alignment_objects(folder: str, wf: WorkflowPlan, run: RunPlan) -> list[dict[str, Any]]:
    vetoed = wf.outcome == "vetoed"
    updated = wf.outcome == "payload"
    bins = {
        "DB updated": int(updated),
        "significant movement": int(updated or vetoed),
        "DB update vetoed": int(vetoed),
        "within max movement": int(not vetoed),
        "within max error": 1,
        "above significance": int(updated or vetoed),
    }
    status = wf.dqm_status
    return [
        {
            "obj": "statusResults",
            "path": f"{folder}/statusResults",
            "properties": {"kind": "ROOT", "type": "TH2F", "report": _report(status)},
            "qresults": [_qresult(status, "MillePedeStatusTest")],
            "nentries": 36,
            "stats": {"nentries": 36},
            "bins": bins,
        },
        {
            "obj": "PedeExitCode",
            "path": f"{folder}/PedeExitCode",
            "properties": {"kind": "INT", "type": "INT", "report": _report(100)},
            "value": "1",
        },
        {
            "obj": "BinariesFound",
            "path": f"{folder}/BinariesFound",
            "properties": {"kind": "INT", "type": "INT", "report": _report(100)},
            "value": str(max(1, run.lumisections // 20)),
        },
    ]


def folder_contents(run: RunPlan, wf: WorkflowPlan, folder: str) -> list[dict[str, Any]]:
    entries = run.lumisections * 1000
    objects = [_quality_object(folder, wf, entries)]
    if wf.workflow.is_alignment:
        objects += _alignment_objects(folder, wf, run)
    return objects


def contents_for(run: RunPlan, wf: WorkflowPlan, requested: str) -> list[dict[str, Any]]:
    """The JSON ``contents`` of a folder of a harvested PCL dataset ([] when unknown)."""
    target = wf.workflow.dqm_folder
    requested = requested.strip("/")
    if requested == target:
        return folder_contents(run, wf, target)
    prefix = f"{requested}/" if requested else ""
    if target.startswith(prefix):
        return [{"subdir": target[len(prefix) :].split("/")[0]}]
    return []
