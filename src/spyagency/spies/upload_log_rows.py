"""Parsing and classifying one upload-service file log (docs/protocols.md, "Upload-service
logs"): ok, rejected because too late for the first condition-safe run, or error."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from spyagency.domain.states import UploadOutcome
from spyagency.spies.failures import SchemaViolation
from spyagency.spies.parsing import as_mapping, compact, optional_str, require_int, require_str

FILE_HASH = re.compile(r"^[0-9a-f]{40}$")
FINISHED = 2000  # statusCode below this: the service is still processing the file
# The upload service refuses a pcl since below the FCSR; these are its words (paraphrased in
# the simulator, "too late" in the cmssw upload scripts).
LATE_WORDING = ("first condition safe run", "first condition-safe run", "too late")


@dataclass(frozen=True)
class ItemStatus:
    tag: str
    status: str
    info: str


@dataclass(frozen=True)
class FileLog:
    status_code: int
    status_text: str
    items: tuple[ItemStatus, ...]
    log: str

    @property
    def finished(self) -> bool:
        return self.status_code >= FINISHED


def classify(status: str, info: str) -> UploadOutcome:
    word = status.strip().lower()
    if word == "ok":
        return UploadOutcome.OK
    text = info.lower()
    if word.startswith("fail") and any(phrase in text for phrase in LATE_WORDING):
        return UploadOutcome.REJECTED_LATE
    return UploadOutcome.ERROR


def parse_file_log(body: Any, file_hash: str) -> FileLog:
    document = as_mapping(body, "file log")
    reported = optional_str(document, "fileHash")
    if reported is not None and reported.lower() != file_hash:
        raise SchemaViolation(f"log is about file {reported:.60}, not {file_hash}")
    status_code = require_int(document, "statusCode")
    items_field = document.get("itemStatus")
    if items_field is None and status_code < FINISHED:
        items_field = {}
    items_map = as_mapping(items_field, "itemStatus")
    items: list[ItemStatus] = []
    for tag, entry in items_map.items():
        item = as_mapping(entry, f"itemStatus of {tag}")
        info = item.get("info")
        items.append(
            ItemStatus(
                tag=tag,
                status=require_str(item, "status"),
                info=info if isinstance(info, str) else compact(info) if info is not None else "",
            )
        )
    log = document.get("log")
    return FileLog(
        status_code=status_code,
        status_text=optional_str(document, "statusText") or "",
        items=tuple(items),
        log=log if isinstance(log, str) else "",
    )
