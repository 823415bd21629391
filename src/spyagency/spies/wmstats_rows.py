"""Parsing WMStats ``requestcache`` and ``jobdetail`` (docs/protocols.md, "WMStats")."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spyagency.domain.states import HarvestJobState
from spyagency.spies.failures import SchemaViolation
from spyagency.spies.parsing import as_list, as_mapping, compact, optional_str, run_number
from spyagency.spies.tier0_rows import stream_name

REQUEST_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
EXPRESS_NAME = re.compile(r"^Express_Run(?P<run>[1-9][0-9]{1,6})_Stream(?P<stream>[A-Za-z0-9_]+)$")
HARVEST_TASK_PREFIX = "AlcaHarvest"
FAILED_STATES = ("jobfailed", "submitfailed")
PAUSED_STATES = ("jobpaused",)
SUCCESS_STATES = ("success",)


@dataclass(frozen=True)
class ExpressRequest:
    name: str
    run: int
    stream: str
    status: str | None = None

    @property
    def completed(self) -> bool:
        return (self.status or "").lower() in COMPLETED_STATUSES


def _result_dicts(body: Any, what: str) -> list[Mapping[str, Any]]:
    rows = as_list(as_mapping(body, what).get("result"), f"{what} 'result'")
    return [as_mapping(row, f"{what} row") for row in rows]


# Request states after which no more jobs will run for the request.
COMPLETED_STATUSES = frozenset({"completed", "closed-out", "announced", "normal-archived"})


def parse_request(name: str, info: Any) -> ExpressRequest | None:
    """An Express request, or None for other request types. Run and stream come from the
    document, else from the name ``Express_Run<run>_Stream<stream>``."""
    if not REQUEST_NAME.fullmatch(name):
        raise SchemaViolation(f"unusable request name {name!r:.80}")
    item = as_mapping(info, f"request {name}")
    kind = optional_str(item, "RequestType")
    named = EXPRESS_NAME.fullmatch(name)
    if kind is not None and kind != "Express":
        return None
    if kind is None and named is None:
        return None
    parsed_name = named.groupdict() if named else {}
    try:
        run = run_number(item.get("Run", parsed_name.get("run")))
        stream = stream_name(item.get("Stream", parsed_name.get("stream")))
    except SchemaViolation as bad:
        raise SchemaViolation(f"request {name}: {bad.message}", compact(item)) from None
    return ExpressRequest(name, run, stream, optional_str(item, "RequestStatus"))


def requests_in(body: Any) -> list[tuple[str, Any]]:
    """The (name, document) pairs of a requestcache answer."""
    return [
        (name, info) for row in _result_dicts(body, "requestcache") for name, info in row.items()
    ]


@dataclass
class HarvestSummary:
    states: set[HarvestJobState] = field(default_factory=set)
    outputs: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    @property
    def state(self) -> HarvestJobState | None:
        # A paused job waits for an operator whatever else ran; a success after failed
        # retries is a success.
        for state in (HarvestJobState.PAUSED, HarvestJobState.SUCCESS, HarvestJobState.FAILED):
            if state in self.states:
                return state
        return None


def _read_samples(code_entry: Any, summary: HarvestSummary, success: bool) -> None:
    entry = as_mapping(code_entry, "exit code entry")
    for sample in as_list(entry.get("samples", []), "samples"):
        body = as_mapping(sample, "sample")
        if success:
            for output in as_list(body.get("output", []), "output"):
                lfn = as_mapping(output, "output").get("lfn")
                if not isinstance(lfn, str):
                    raise SchemaViolation("output without an lfn", compact(output))
                summary.outputs.append(lfn)
            continue
        errors = as_mapping(body.get("errors", {}), "errors")
        for step, step_errors in errors.items():
            for error in as_list(step_errors, f"errors of {step}"):
                details = as_mapping(error, "error").get("details")
                if isinstance(details, str) and details:
                    summary.details.append(details)


def summarise_jobdetail(body: Any, name: str) -> HarvestSummary:
    summary = HarvestSummary()
    for row in _result_dicts(body, "jobdetail"):
        tasks = as_mapping(row.get(name, {}), f"tasks of {name}")
        for path, states in tasks.items():
            if not path.rstrip("/").rsplit("/", 1)[-1].startswith(HARVEST_TASK_PREFIX):
                continue
            for state, codes in as_mapping(states, f"states of {path}").items():
                if state in SUCCESS_STATES:
                    mapped = HarvestJobState.SUCCESS
                elif state in FAILED_STATES:
                    mapped = HarvestJobState.FAILED
                elif state in PAUSED_STATES:
                    mapped = HarvestJobState.PAUSED
                else:
                    continue
                code_map = as_mapping(codes, f"exit codes of {state}")
                summary.states.add(mapped)
                for code, entry in code_map.items():
                    _read_samples(entry, summary, mapped is HarvestJobState.SUCCESS)
                    if mapped is not HarvestJobState.SUCCESS and not summary.details:
                        summary.details.append(f"{state} with exit code {code}")
    return summary
