"""Summarising one ALCAPROMPT DQM folder (DOMAIN.md 5.6, docs/protocols.md "DQM GUI JSON"):
the worst quality-test status, the failed tests, and the pixel-alignment decision."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spyagency.domain.states import DqmStatus
from spyagency.spies.failures import SchemaViolation
from spyagency.spies.parsing import as_list, as_mapping, compact, require_int, to_bool, to_int

ERROR_CODE = 300
STATUS_RESULTS = "statusResults"
PEDE_EXIT_CODE = "PedeExitCode"
BIN_DB_UPDATED = "DB updated"
BIN_VETOED = "DB update vetoed"


@dataclass
class FolderSummary:
    statuses: list[DqmStatus] = field(default_factory=list)
    failed_tests: list[str] = field(default_factory=list)
    vetoed: bool | None = None
    db_updated: bool | None = None
    pede_exit_code: int | None = None
    problems: list[SchemaViolation] = field(default_factory=list)

    @property
    def has_evidence(self) -> bool:
        alignment = (self.vetoed, self.db_updated, self.pede_exit_code)
        return bool(self.statuses) or any(v is not None for v in alignment)

    @property
    def status(self) -> DqmStatus:
        return max(self.statuses, key=lambda s: s.severity, default=DqmStatus.OTHER)


def folder_contents(body: Any) -> list[Any]:
    return as_list(as_mapping(body, "DQM answer").get("contents"), "DQM 'contents'")


def _read_qresults(item: Mapping[str, Any], summary: FolderSummary) -> None:
    if "qresults" not in item:
        return
    for result in as_list(item["qresults"], f"qresults of {item.get('obj')!r:.60}"):
        test = as_mapping(result, "qresult")
        code = require_int(test, "status")
        status = DqmStatus.from_code(code)
        summary.statuses.append(status)
        if code == ERROR_CODE:
            name = test.get("name")
            summary.failed_tests.append(name if isinstance(name, str) else str(item["obj"]))


def _read_alignment(item: Mapping[str, Any], summary: FolderSummary) -> None:
    name = item["obj"]
    if name == STATUS_RESULTS and "bins" in item:
        bins = as_mapping(item["bins"], "statusResults bins")
        if BIN_VETOED in bins:
            summary.vetoed = to_bool(bins[BIN_VETOED], f"bin {BIN_VETOED!r}")
        if BIN_DB_UPDATED in bins:
            summary.db_updated = to_bool(bins[BIN_DB_UPDATED], f"bin {BIN_DB_UPDATED!r}")
    elif name == PEDE_EXIT_CODE and item.get("value") is not None:
        summary.pede_exit_code = to_int(item["value"], PEDE_EXIT_CODE)


def summarise_folder(body: Any) -> FolderSummary:
    """Raises ``SchemaViolation`` for an unusable document; a bad object is a problem listed
    in the summary, and the other objects still count."""
    summary = FolderSummary()
    for entry in folder_contents(body):
        if not isinstance(entry, Mapping) or "obj" not in entry:
            continue  # subdirectories and unknown entries carry no quality
        try:
            if not isinstance(entry["obj"], str):
                raise SchemaViolation("field 'obj' must be a string")
            _read_qresults(entry, summary)
            _read_alignment(entry, summary)
        except SchemaViolation as bad:
            summary.problems.append(SchemaViolation(bad.message, compact(entry)))
    return summary
