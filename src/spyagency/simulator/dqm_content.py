"""DQM GUI answers for the ALCAPROMPT datasets (docs/protocols.md, "DQM GUI JSON").

``data/json/archive`` folders in the shape of dqmgui_prod ``serverext.cc`` ``objectToJSON``: a
histogram only as ``rootobj`` (hex of a streamed object; ours is opaque filler), a scalar as a
string ``value``, and no quality tests (the ALCAHARVEST paths run no QualityTester). The
pixel alignment's ``statusResults`` bins are readable only from the jsonfairy export
(``render.cc`` ``getJson``): one labelled row of decision bins for SiPixelAli, a 6 x 10 grid
of fraction checks for the high-granularity alignments (cmssw ``MillePedeDQMModule.cc``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from spyagency.simulator.plan import RunPlan, WorkflowPlan

# The ``-v<N>`` of the ALCAPROMPT datasets is the express ``proc_version``; the simulator's
# express_config answer (http_tier0 ``_express_row``) says 1 for every stream.
EXPRESS_PROC_VERSION = 1
STATUS_RESULTS = "statusResults"
ALIGNMENT_BINS = (
    "DB updated",
    "significant movement",
    "DB update vetoed",
    "within max movement",
    "within max error",
    "above significance",
)
HG_DOFS = (
    "#DeltaX",
    "#Delta#theta_{X}",
    "#DeltaY",
    "#Delta#theta_{Y}",
    "#DeltaZ",
    "#Delta#theta_{Z}",
)
HG_LAYERS = (
    "Layer1",
    "Layer2",
    "Layer3",
    "Layer4",
    "Disk-3",
    "Disk-2",
    "Disk-1",
    "Disk1",
    "Disk2",
    "Disk3",
)
# Pede's exit line as MillePedeFileReader publishes it: the code, then pede's words
# (Millepede II manual, list of exit codes).
PEDE_ENDED = "    0   Ended normally"
PEDE_ABORTED = "   29   Aborted, factorization of global matrix failed"
NO_REPORT = {"alarm": 0, "error": 0, "warn": 0, "other": 0}


def dataset_name(
    stream: str, acq_era: str, producer: str, proc_version: int = EXPRESS_PROC_VERSION
) -> str:
    return f"/Stream{stream}/{acq_era}-{producer}-Express-v{proc_version}/ALCAPROMPT"


def _axis_stats(nbins: int = 0) -> dict[str, Any]:
    return {"nbins": nbins, "mean": 0, "rms": 0, "min": 0, "max": 0}


def _element(folder: str, name: str, kind: str, type_: str, nentries: float) -> dict[str, Any]:
    return {
        "obj": name,
        "path": f"{folder}/{name}",
        "properties": {
            "kind": kind,
            "type": type_,
            "lumisect": "0",
            "report": dict(NO_REPORT),
            "hasref": 0,
            "isEff": 0,
            "tagged": 0,
        },
        "tag": 0,
        "qresults": [],
        "nentries": nentries,
        "stats": {"x": _axis_stats(), "y": _axis_stats(), "z": _axis_stats()},
    }


def _histogram(folder: str, name: str, type_: str, nentries: float) -> dict[str, Any]:
    item = _element(folder, name, "ROOT", type_, nentries)
    # Any hex will do: nobody can read bins from it, which is the point.
    item["rootobj"] = hashlib.sha256(item["path"].encode()).hexdigest() * 4
    return item


def _scalar(folder: str, name: str, type_: str, value: str) -> dict[str, Any]:
    item = _element(folder, name, "SCALAR", type_, 0)
    item["value"] = value
    return item


def pede_message(wf: WorkflowPlan) -> str:
    """A quality-test ERROR planned for an alignment shows as pede aborting."""
    return PEDE_ABORTED if wf.dqm_status == 300 else PEDE_ENDED


def folder_contents(run: RunPlan, wf: WorkflowPlan, folder: str) -> list[dict[str, Any]]:
    entries = run.lumisections * 1000
    objects: list[dict[str, Any]] = [{"streamerinfo": ""}]
    if not wf.workflow.is_alignment:
        return [*objects, _histogram(folder, f"{wf.workflow.name}_summary", "TH1F", entries)]
    objects += [_histogram(folder, axis, "TH1F", 36) for axis in ("Xpos", "Xrot", "Ypos", "Yrot")]
    objects += [
        _histogram(folder, STATUS_RESULTS, "TH2F", 6 * _rows(folder)),
        _scalar(folder, "BinariesFound", "INT", str(max(1, run.lumisections // 20))),
        _scalar(folder, "PedeExitCode", "STRING", pede_message(wf)),
    ]
    return objects


def _is_high_granularity(folder: str) -> bool:
    return folder.rstrip("/").split("/")[-1].startswith("SiPixelAliHG")


def _rows(folder: str) -> int:
    return len(HG_LAYERS) if _is_high_granularity(folder) else 1


def _labels(names: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"center": n + 0.5, "value": name} for n, name in enumerate(names)]


def _axis(names: tuple[str, ...]) -> dict[str, Any]:
    return {
        "first": {"id": 1, "value": 0},
        "last": {"id": len(names), "value": len(names)},
        "labels": _labels(names),
    }


def status_results_hist(wf: WorkflowPlan, folder: str) -> dict[str, Any]:
    """The jsonfairy rendering of ``statusResults``: ``{"hist": {...}}``."""
    vetoed = wf.outcome == "vetoed"
    updated = wf.outcome == "payload"
    hist: dict[str, Any] = {"type": "TH2", "stats": {}, "values": {"min": 0, "max": 1}}
    if _is_high_granularity(folder):
        moved = 1.0 if vetoed else 0.25 if updated else 0.0
        content = [[moved if dof % 2 == 0 else 0.0 for dof in range(6)] for _ in HG_LAYERS]
        hist.update(
            title=f"Fraction threshold check for {folder.rsplit('/', maxsplit=1)[-1]} PCL",
            xaxis=_axis(HG_DOFS),
            yaxis=_axis(HG_LAYERS),
        )
    else:
        decisions = (updated, updated or vetoed, vetoed, not vetoed, True, updated or vetoed)
        content = [[float(d) for d in decisions]]
        # One y bin: the GUI leaves that axis out (no range, no labels).
        hist.update(title="Status of SiPixelAli PCL workflow", xaxis=_axis(ALIGNMENT_BINS))
    hist["bins"] = {"integral": [[0, 0, 0], [0, sum(map(sum, content)), 0], [0, 0, 0]]}
    hist["bins"]["content"] = content
    return {"hist": hist}


def contents_for(run: RunPlan, wf: WorkflowPlan, requested: str) -> list[dict[str, Any]]:
    """The JSON ``contents`` of a folder of a harvested PCL dataset ([] when unknown)."""
    target = wf.workflow.dqm_folder
    requested = requested.strip("/")
    if requested == target:
        return folder_contents(run, wf, target)
    prefix = f"{requested}/" if requested else ""
    if target.startswith(prefix):
        return [{"streamerinfo": ""}, {"subdir": target[len(prefix) :].split("/")[0]}]
    return []


def fairy_for(wf: WorkflowPlan, requested: str) -> dict[str, Any] | None:
    """The jsonfairy answer for one object path of a harvested PCL dataset (None: unknown)."""
    folder, _, name = requested.strip("/").rpartition("/")
    if folder != wf.workflow.dqm_folder or not wf.workflow.is_alignment:
        return None
    return status_results_hist(wf, folder) if name == STATUS_RESULTS else None
