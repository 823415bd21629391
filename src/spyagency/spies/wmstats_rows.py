"""Parsing WMStats (t0_reqmon) ``requestcache`` and ``jobdetail`` answers.

The shapes, as docs/protocols.md ("WMStats") traces them to dmwm/WMCore:

* ``requestcache``: ``{"result": [{<request name>: <request document>}]}``. A Tier-0 request
  document carries ``RequestName``, ``Run``, ``RequestStatus``, ``RequestTransition`` and
  ``AgentJobInfo``, but no request type and no stream: an Express request is recognised, and
  its stream read, from its name ``Express_Run<run>_Stream<stream>``.
* ``jobdetail/<request>``: ``{"result": [{<request>: {<task path>: {<job state>: {<exit code>:
  {<site>: {"errorCount": n, "samples": [<job summary>]}}}}}}]}``, and ``{"result": [{}]}``
  when the request has no job summary at all. A job summary exists only for a job that failed
  or succeeded after a retry, so its absence says nothing.
* A request document's ``AgentJobInfo`` holds, per agent and per task, the count of jobs
  in each state (first-try successes included) and the task's subscription status
  (``finished``/``open``), written by WMCore's AnalyticsDataCollector at task level.
* Each PromptCalibProd producer has its own AlcaHarvest task, whose last path part is
  ``<alca skim task>AlcaHarvestALCARECOStream<producer>``; its ``...AlcaHarvestLogCollect``
  and ``...ConditionSqlite`` children are not harvests.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spyagency.domain.states import HarvestJobState
from spyagency.spies.documents import loads_strict
from spyagency.spies.failures import SchemaViolation
from spyagency.spies.parsing import (
    as_list,
    as_mapping,
    compact,
    optional_str,
    run_number,
    to_int,
)

REQUEST_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
EXPRESS_NAME = re.compile(r"^Express_Run(?P<run>[1-9][0-9]{1,6})_Stream(?P<stream>[A-Za-z0-9_]+)$")
HARVEST_MARK = "AlcaHarvest"
# The ALCAPROMPT output module of the alca skim is "ALCARECOStream" + the producer's name.
PRODUCER_LABEL = re.compile(r"^(?:ALCARECOStream)?(?P<producer>PromptCalibProd[A-Za-z0-9]*)$")
# Job summary states (WMCore ChangeState, ErrorHandler, RetryManager). A cool-off is a failed
# attempt waiting for its retry: a failure until something better is reported.
FAILED_STATES = frozenset(
    {"jobfailed", "submitfailed", "createfailed", "jobcooloff", "submitcooloff", "createcooloff"}
)
PAUSED_STATES = frozenset({"jobpaused", "submitpaused", "createpaused"})
SUCCESS_STATES = frozenset({"success"})
# The job report's log tarball is not a harvest output (ChangeState names its type so).
LOG_OUTPUT_TYPE = "logArchive"
# Request states after which no more jobs will run for the request.
COMPLETED_STATUSES = frozenset({"completed", "closed-out", "announced", "normal-archived"})


@dataclass(frozen=True)
class TaskCounts:
    """The job counts of one producer's AlcaHarvest task, summed over the agents."""

    producer: str
    succeeded: int = 0
    failed: int = 0
    active: int = 0
    subscriptions_finished: int = 0
    subscriptions_open: int = 0
    # Unix time of the subscriptions' last update (when the last one finished), if given.
    updated: int | None = None

    def plus(self, other: TaskCounts) -> TaskCounts:
        stamps = [t for t in (self.updated, other.updated) if t is not None]
        return TaskCounts(
            self.producer,
            self.succeeded + other.succeeded,
            self.failed + other.failed,
            self.active + other.active,
            self.subscriptions_finished + other.subscriptions_finished,
            self.subscriptions_open + other.subscriptions_open,
            max(stamps) if stamps else None,
        )


@dataclass(frozen=True)
class ExpressRequest:
    name: str
    run: int
    stream: str
    status: str | None = None
    # Per producer, what the agents report about its AlcaHarvest task (``AgentJobInfo``).
    tasks: tuple[TaskCounts, ...] = ()

    @property
    def completed(self) -> bool:
        return (self.status or "").lower() in COMPLETED_STATUSES


@dataclass(frozen=True)
class Unreadable:
    """A jobdetail answer that is not JSON (cut off, say): a problem of that request only."""

    message: str


def read_item(text: str) -> Any:
    """A JSON reader that returns ``Unreadable`` instead of failing: one request's answer
    must not count as the whole source failing."""
    try:
        return loads_strict(text)
    except SchemaViolation as bad:
        return Unreadable(bad.message)


def express_name(name: str) -> tuple[int, str] | None:
    """(run, stream) of an Express request name; None for other requests (PromptReco...).
    Raises for a name that no request could have."""
    if not isinstance(name, str) or not REQUEST_NAME.fullmatch(name):
        raise SchemaViolation(f"unusable request name {name!r:.80}")
    named = EXPRESS_NAME.fullmatch(name)
    if named is None:
        return None
    return int(named["run"]), named["stream"]


def parse_request(name: str, info: Any) -> ExpressRequest | None:
    """The Express request ``name`` describes, or None for other requests."""
    named = express_name(name)
    if named is None:
        return None
    run, stream = named
    item = as_mapping(info, f"request {name}")
    try:
        # ``Run`` is written by the Tier-0 next to the name: a different one is a bad document.
        if "Run" in item and run_number(item["Run"]) != run:
            raise SchemaViolation(f"'Run' {item['Run']!r:.20} differs from the name")
        status = optional_str(item, "RequestStatus")
        tasks = harvest_task_counts(item.get("AgentJobInfo"))
    except SchemaViolation as bad:
        raise SchemaViolation(f"request {name}: {bad.message}", compact(item)) from None
    return ExpressRequest(name, run, stream, status, tasks)


def harvest_task_counts(agents: Any) -> tuple[TaskCounts, ...]:
    """Per producer, the job counts and subscription state of its AlcaHarvest task, summed
    over the agents of ``AgentJobInfo`` (WMCore AnalyticsDataCollector, task level):
    ``{<agent>: {"tasks": {<task path>: {"status": {<job state>: n | {<sub-state>: n}},
    "subscription_status": {"finished": n, "open": n, "total": n}}}}}``."""
    found: dict[str, TaskCounts] = {}
    for agent, info in as_mapping(agents or {}, "AgentJobInfo").items():
        tasks = as_mapping(as_mapping(info, f"agent {agent}").get("tasks") or {}, "tasks")
        for path, entry in tasks.items():
            producer = harvest_producer(path)
            if not producer:
                continue
            counts = _task_counts(producer, as_mapping(entry, f"task {path}"))
            known = found.get(producer)
            found[producer] = counts if known is None else known.plus(counts)
    return tuple(found[p] for p in sorted(found))


def _task_counts(producer: str, entry: Mapping[str, Any]) -> TaskCounts:
    succeeded = failed = active = 0
    for state, value in as_mapping(entry.get("status") or {}, "task status").items():
        jobs = _jobs(value, f"task status {state!r}")
        if state == "success":
            succeeded += jobs
        elif state == "failure":
            failed += jobs
        else:
            # Queued, submitted, cool-off, paused, or a state we do not know: not finished.
            active += jobs
    subscriptions = as_mapping(entry.get("subscription_status") or {}, "subscription_status")
    finished = to_int(subscriptions.get("finished", 0), "subscriptions finished")
    still_open = to_int(subscriptions.get("open", 0), "subscriptions open")
    updated = subscriptions.get("updated")
    stamp = None if updated is None else to_int(updated, "subscriptions updated")
    if stamp is not None and not 0 < stamp < 2**33:
        raise SchemaViolation(f"subscriptions updated {stamp} is no unix time")
    return TaskCounts(producer, succeeded, failed, active, finished, still_open, stamp)


def _jobs(value: Any, what: str) -> int:
    """A job count, or the sum of a state's sub-states (``{"first": 1, "retry": 2}``)."""
    if isinstance(value, Mapping):
        return sum(_jobs(v, what) for v in value.values())
    count = to_int(value, what)
    if count < 0:
        raise SchemaViolation(f"{what} must not be negative, got {count}")
    return count


def _result_dicts(body: Any, what: str) -> list[Mapping[str, Any]]:
    rows = as_list(as_mapping(body, what).get("result"), f"{what} 'result'")
    return [as_mapping(row, f"{what} row") for row in rows]


def requests_in(body: Any) -> list[tuple[str, Any]]:
    """The (name, document) pairs of a requestcache answer."""
    return [
        (name, info) for row in _result_dicts(body, "requestcache") for name, info in row.items()
    ]


def harvest_producer(path: str) -> str | None:
    """The producer of an AlcaHarvest task path: its PromptCalibProd* name, "" for a harvest
    task whose producer cannot be told, None for any other task (LogCollect, Condition...)."""
    parts = [part for part in path.split("/") if part]
    if not parts:
        return None
    last = parts[-1]
    parent = parts[-2] if len(parts) > 1 else ""
    if last.endswith("LogCollect") or HARVEST_MARK not in last:
        return None
    # The condition task is a child named after its harvest task: "<harvest>Condition<label>".
    if parent and last.startswith(parent + "Condition"):
        return None
    label = last[last.rindex(HARVEST_MARK) + len(HARVEST_MARK) :]
    found = PRODUCER_LABEL.fullmatch(label)
    return found["producer"] if found else ""


@dataclass
class HarvestSummary:
    """What the job summaries of one producer's AlcaHarvest task say."""

    states: set[HarvestJobState] = field(default_factory=set)
    outputs: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    # The latest ``timestamp`` of a success sample (when its summary was written, unix).
    succeeded_at: int | None = None

    @property
    def state(self) -> HarvestJobState | None:
        # A paused job waits for an operator whatever else ran; a success after failed
        # attempts is a success.
        for state in (HarvestJobState.PAUSED, HarvestJobState.SUCCESS, HarvestJobState.FAILED):
            if state in self.states:
                return state
        return None

    def outcome(self) -> tuple[object, ...]:
        return (self.state, tuple(self.outputs), tuple(self.details))


def _job_state(state: str) -> HarvestJobState | None:
    if state in SUCCESS_STATES:
        return HarvestJobState.SUCCESS
    if state in PAUSED_STATES:
        return HarvestJobState.PAUSED
    if state in FAILED_STATES:
        return HarvestJobState.FAILED
    return None


def _outputs(sample: Mapping[str, Any]) -> list[str]:
    lfns = []
    for output in as_list(sample.get("output") or [], "output"):
        entry = as_mapping(output, "output")
        lfn = entry.get("lfn")
        if entry.get("type") == LOG_OUTPUT_TYPE or lfn is None:
            continue
        if not isinstance(lfn, str) or not lfn:
            raise SchemaViolation("output with an unusable lfn", compact(entry))
        lfns.append(lfn)
    return lfns


def _error_details(sample: Mapping[str, Any]) -> list[str]:
    details = []
    for step, errors in as_mapping(sample.get("errors") or {}, "errors").items():
        for error in as_list(errors, f"errors of {step}"):
            text = as_mapping(error, "error").get("details")
            if isinstance(text, str) and text.strip():
                details.append(text.strip())
    return details


def _read_state(summary: HarvestSummary, state: str, codes: Any, path: str) -> None:
    mapped = _job_state(state)
    if mapped is None:
        return
    summary.states.add(mapped)
    for code, sites in as_mapping(codes, f"exit codes of {state} in {path}").items():
        for site, entry in as_mapping(sites, f"sites of exit code {code}").items():
            body = as_mapping(entry, f"site {site} of exit code {code}")
            for sample in as_list(body.get("samples", []), "samples"):
                job = as_mapping(sample, "sample")
                if mapped is HarvestJobState.SUCCESS:
                    summary.outputs.extend(_outputs(job))
                    stamp = job.get("timestamp")
                    if isinstance(stamp, int) and not isinstance(stamp, bool) and stamp > 0:
                        summary.succeeded_at = max(summary.succeeded_at or 0, stamp)
                else:
                    summary.details.extend(_error_details(job))
            if mapped is not HarvestJobState.SUCCESS and not summary.details:
                summary.details.append(f"{state} with exit code {code} at {site}")


def summarise_jobdetail(body: Any, name: str) -> dict[str, HarvestSummary]:
    """Per producer ("" for a harvest task that names none), what its AlcaHarvest task's job
    summaries say. Empty when no harvest job has a summary, which proves nothing."""
    summaries: dict[str, HarvestSummary] = {}
    for row in _result_dicts(body, "jobdetail"):
        tasks = as_mapping(row.get(name, {}), f"tasks of {name}")
        for path, states in tasks.items():
            producer = harvest_producer(path)
            if producer is None:
                continue
            summary = summaries.setdefault(producer, HarvestSummary())
            for state, codes in as_mapping(states, f"states of {path}").items():
                _read_state(summary, state, codes, path)
    return {p: s for p, s in sorted(summaries.items()) if s.state is not None}
