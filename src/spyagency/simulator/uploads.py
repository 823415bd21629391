"""The conditions upload service: what it decides for one upload, and the log it writes.

The FCSR rule per tag synchronization follows CondDBFW uploads.py. The log's words and
status codes follow the public dropBox backend (jgomezca/HVScan_RPC ``dropBoxBE``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from spyagency.simulator.iov import lumi_since, run_of_since
from spyagency.simulator.plan import OutputPlan
from spyagency.simulator.timefmt import iso_z, to_datetime

Verdict = Literal["ok", "moved_to_fcsr", "rejected_late", "error"]
TOO_LATE_WORDING = "is smaller than the first condition safe run"
# File status codes of the dropBox backend (offset + step*100 + {01, 10/20, 99}).
DOWNLOADING_OK_CODE = 2999
PROCESSING_CODE = 4000
EXPORTING_FAILURE_CODE = 4210
PROCESSING_OK_CODE = 4999


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
    # The backend's logging format, ``[%(asctime)s] %(levelname)s: %(message)s``.
    return to_datetime(t).strftime("[%Y-%m-%d %H:%M:%S,%f")[:-3] + "]"


@dataclass
class UploadLog:
    """The upload service's record of one upload, keyed by the sha1 of its tarball.

    ``text()`` is what ``getFileLog`` answers: the processing log as plain text. The status
    code (``offset + step*100 + {01, 10/20, 99}``) is written into the log each time it
    changes, in the backend's own words (``updating status for <hash> to <code>``).
    ``item_status`` is what the upload answered the Tier-0 per tag; only the truth reads it.
    """

    file_hash: str
    file_name: str
    created: float
    modified: float
    status_code: int = DOWNLOADING_OK_CODE
    item_status: dict[str, dict[str, str]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def say(self, t: float, level: str, text: str) -> None:
        self.lines.append(f"{_stamp(t)} {level}: {text}")
        self.modified = t

    def set_status(self, t: float, code: int) -> None:
        self.status_code = code
        self.say(t, "INFO", f"updating status for {self.file_hash} to {code}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        """The record as a whole (for tests and the truth; the service serves ``text()``)."""
        return {
            "fileHash": self.file_hash,
            "fileName": self.file_name,
            "creationTime": iso_z(self.created),
            "modificationTime": iso_z(self.modified),
            "statusCode": self.status_code,
            "itemStatus": self.item_status,
            "log": self.text(),
        }


def open_log(out: OutputPlan, file_hash: str, at: float) -> UploadLog:
    """The log as soon as the tarball is downloaded by the service: status 2999."""
    log = UploadLog(file_hash, out.file_stem, at, at)
    log.say(at, "INFO", f"starting to process {file_hash} ({out.file_stem}, user cmst0)")
    log.set_status(at, DOWNLOADING_OK_CODE)
    tags = ", ".join(f"'{tag}'" for tag in out.spec.destination_tags)
    log.say(
        at,
        "INFO",
        f"metadata: inputTag={out.spec.input_tag} "
        f"destinationTags=[{tags}] since={out.iovs[0].since}",
    )
    return log


def close_log(
    log: UploadLog, out: OutputPlan, decision: UploadDecision, fcsr: int, at: float
) -> None:
    """Finish the log: one export per destination tag, in the metadata's order. The tags of
    one output share its synchronization, so one decision holds for all of them; each tag
    still gets its own lines and its own ``item_status`` entry, as the service reports per
    tag."""
    tags, sync = out.spec.destination_tags, out.spec.synchronization
    log.set_status(at, PROCESSING_CODE)
    first_since = out.iovs[0].since
    log.say(at, "INFO", f'Synchronizing since value:{first_since} to "{sync}" with run={fcsr}')
    if decision.verdict in ("ok", "moved_to_fcsr"):
        if decision.verdict == "moved_to_fcsr":
            log.say(at, "WARNING", decision.info)
        for tag in tags:
            log.say(
                at,
                "INFO",
                f"going to export input tag {out.spec.input_tag} to dest tag {tag} "
                f"with destSince {decision.sinces[0]}",
            )
            log.say(at, "INFO", f"exportation to {sync} done.")
        log.item_status = {tag: {"status": "ok", "info": decision.info} for tag in tags}
        log.set_status(at, PROCESSING_OK_CODE)
    elif decision.verdict == "rejected_late":
        # As the 2012 backend did: the pcl export is skipped and the file still ends "ok";
        # only the words say it was refused.
        log.say(at, "INFO", "Cannot synchronize to PCL since firstSince < syncValue")
        for tag in tags:
            log.say(at, "WARNING", f"dest tag {tag}: {decision.info}")
        log.item_status = {tag: {"status": "fail", "info": decision.info} for tag in tags}
        log.set_status(at, PROCESSING_OK_CODE)
    else:
        for tag in tags:
            log.say(
                at,
                "ERROR",
                f"exportation failed for input tag {out.spec.input_tag} to dest tag {tag}: "
                f"{decision.info}",
            )
        log.item_status = {tag: {"status": "fail", "info": decision.info} for tag in tags}
        log.set_status(at, EXPORTING_FAILURE_CODE)
    log.say(at, "INFO", f"done handling {log.file_hash}")
