"""WMStats (t0_reqmon) shapes fixed in docs/protocols.md: requestcache and jobdetail."""

from __future__ import annotations

from typing import Any

from spyagency.simulator.records import HarvestJobRecord

HARVEST_FAILURE_EXIT = 8001
# The requestcache holds the active requests only: the Tier-0 archives a request (status
# ``normal-archived``) this long after it completed, and it then leaves the requestcache
# (``jobdetail`` still answers for it). Without this the cache would list every request since
# the start of the year and grow with history.
COMPLETED_STATUS = "completed"
ARCHIVED_STATUS = "normal-archived"
ARCHIVE_AFTER_COMPLETED_S = 7 * 24 * 3600.0


def in_request_cache(transitions: list[tuple[str, float]]) -> bool:
    """Whether a request with these transitions is still listed by ``requestcache``."""
    return bool(transitions) and transitions[-1][0] != ARCHIVED_STATUS


def request_entry(
    name: str, run: int, stream: str, transitions: list[tuple[str, float]]
) -> dict[str, Any]:
    return {
        "RequestName": name,
        "RequestType": "Express",
        "RequestStatus": transitions[-1][0],
        "Run": run,
        "Stream": stream,
        "RequestTransition": [{"Status": s, "UpdateTime": int(t)} for s, t in transitions],
    }


def _sample(job: HarvestJobRecord) -> dict[str, Any]:
    if job.failed:
        return {
            "state": "jobfailed",
            "output": [],
            "errors": {
                "cmsRun1": [
                    {
                        "type": "Fatal Exception",
                        "details": "An exception of category 'FileReadError' occurred while "
                        "harvesting ALCAPROMPT",
                        "exitCode": HARVEST_FAILURE_EXIT,
                    }
                ]
            },
        }
    return {"state": "success", "output": [{"lfn": lfn} for lfn in job.output_lfns], "errors": {}}


def job_detail(name: str, jobs: list[HarvestJobRecord]) -> dict[str, Any]:
    """{task path: {state: {exitCode: {errorCount, samples}}}} for the AlcaHarvest task."""
    states: dict[str, dict[str, dict[str, Any]]] = {}
    for job in jobs:
        state = "jobfailed" if job.failed else "success"
        code = str(HARVEST_FAILURE_EXIT if job.failed else 0)
        bucket = states.setdefault(state, {}).setdefault(code, {"errorCount": 0, "samples": []})
        bucket["errorCount"] += int(job.failed)
        bucket["samples"].append(_sample(job))
    return {f"/{name}/Express/AlcaHarvestALCAPROMPT": states}
