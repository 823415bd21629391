"""The conditions upload service: what it decides for one upload, and the log it writes.

The FCSR rule per tag synchronization follows CondDBFW uploads.py (DOMAIN.md section 4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from spyagency.simulator.iov import lumi_since, run_of_since
from spyagency.simulator.plan import OutputPlan
from spyagency.simulator.timefmt import iso_z, to_datetime

Verdict = Literal["ok", "moved_to_fcsr", "rejected_late", "error"]
TOO_LATE_WORDING = "is smaller than the first condition safe run"
PROCESSING_CODE = 1100
FINISHED_CODE = 2000


@dataclass(frozen=True)
class UploadDecision:
    verdict: Verdict
    sinces: tuple[int, ...]  # the sinces that will be written (moved up when synced)
    info: str


def decide(out: OutputPlan, fcsr: int) -> UploadDecision:
    sync = out.spec.synchronization
    sinces = tuple(iov.since for iov in out.iovs)
    first_run = run_of_since(sinces[0], out.spec.time_type)
    if out.upload_error:
        return UploadDecision(
            "error", (), "Upload failed: payload deserialization error (boost archive)"
        )
    if first_run >= fcsr or sync in ("any", "validation"):
        return UploadDecision("ok", sinces, f"Inserted {len(sinces)} IOV(s)")
    if sync == "pcl":
        return UploadDecision(
            "rejected_late",
            (),
            f"Synchronization pcl: since {first_run} {TOO_LATE_WORDING} {fcsr}; "
            "the upload is too late and is rejected.",
        )
    if sync in ("hlt", "express", "prompt"):
        moved = lumi_since(fcsr, 1) if out.spec.time_type == "lumi" else fcsr
        return UploadDecision(
            "moved_to_fcsr",
            (moved,),
            f"Synchronization {sync}: since {first_run} moved up to {fcsr}",
        )
    return UploadDecision("error", (), f"Synchronization {sync} does not accept since {first_run}")


def _stamp(t: float) -> str:
    return to_datetime(t).strftime("[%Y-%m-%d %H:%M:%S,%f")[:-3] + "]"


@dataclass
class UploadLog:
    """The upload service's record of one file, keyed by the sha1 of the .db bytes."""

    file_hash: str
    file_name: str
    created: float
    modified: float
    status_code: int = PROCESSING_CODE
    status_text: str = "Processing"
    item_status: dict[str, dict[str, str]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def say(self, t: float, level: str, text: str) -> None:
        self.lines.append(f"{_stamp(t)} {level}: {text}")
        self.modified = t

    def to_json(self) -> dict[str, Any]:
        return {
            "fileHash": self.file_hash,
            "fileName": self.file_name,
            "creationTime": iso_z(self.created),
            "modificationTime": iso_z(self.modified),
            "statusCode": self.status_code,
            "statusText": self.status_text,
            "itemStatus": self.item_status,
            "log": "\n".join(self.lines),
        }


def open_log(out: OutputPlan, file_hash: str, at: float) -> UploadLog:
    log = UploadLog(file_hash, f"{out.file_stem}.db", at, at)
    log.say(at, "INFO", f"Received {out.file_stem}.db from the Tier-0 (user cmst0).")
    log.say(
        at,
        "INFO",
        f"Metadata: inputTag={out.spec.input_tag} "
        f"destinationTags=['{out.spec.destination_tag}'] since={out.iovs[0].since}",
    )
    return log


def close_log(
    log: UploadLog, out: OutputPlan, decision: UploadDecision, fcsr: int, at: float
) -> None:
    tag = out.spec.destination_tag
    log.say(at, "INFO", f"First condition safe run is {fcsr}.")
    log.say(at, "INFO", f"Tag {tag} has synchronization {out.spec.synchronization}.")
    if decision.verdict in ("ok", "moved_to_fcsr"):
        if decision.verdict == "moved_to_fcsr":
            log.say(at, "WARNING", decision.info)
        log.say(at, "INFO", f"Inserted {len(decision.sinces)} IOV(s) into tag {tag}.")
        log.item_status = {tag: {"status": "ok", "info": decision.info}}
    else:
        log.say(at, "ERROR", decision.info)
        log.item_status = {tag: {"status": "fail", "info": decision.info}}
    log.say(at, "INFO", "Upload finished.")
    log.status_code, log.status_text = FINISHED_CODE, "Finished"
