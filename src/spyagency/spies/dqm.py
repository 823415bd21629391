"""The DQM spy: quality tests and alignment decisions of each PCL workflow's ALCAPROMPT
folder (docs/protocols.md, "DQM GUI JSON").

Per cycle: one folder request per (stopped open run, workflow with a DQM folder, stream of the
run the workflow runs in, with the stream's express ``proc_version`` known) whose workflow has
harvest evidence the spy has not yet read the folder twice alike since, and per folder already
read, one ``refresh_every`` cycles after its last reading. A folder holding the alignment's
``statusResults`` costs one more request: its bins, from the GUI's jsonfairy export (the
folder answer has the histogram only as a streamed ROOT object, which we do not decode).

The folders are filled by the harvest, so folders without harvest evidence are not asked (nor
running runs'). A missing or empty folder says nothing. One folder that cannot be read is an
item problem of its run; the source fails only when no folder request reached the GUI. The
spy's memory of what it read follows the open runs; a restart forgets it.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Unpack

from spyagency.domain.facts import DqmQuality
from spyagency.domain.states import Source
from spyagency.spies.base import HttpSpy, HttpSpyOptions
from spyagency.spies.confirmation import SecondReadings
from spyagency.spies.dqm_rows import (
    STATUS_RESULTS,
    classify_pede_message,
    read_folder_text,
    summarise_contents,
    without_root_objects,
)
from spyagency.spies.failures import SchemaViolation, SourceFailure
from spyagency.spies.jsonfairy import StatusBins, parse_status_results
from spyagency.spies.report import Findings
from spyagency.spies.scope import PollScope, RunScope, WorkflowScope

PATH_PART = re.compile(r"^[A-Za-z0-9_.-]+$")


def dqm_dataset(era: str, producer: str, stream: str, proc_version: int) -> str:
    """``/Stream<S>/<era>-<producer>-Express-v<proc_version>/ALCAPROMPT``: the version is the
    stream's express ``proc_version`` (Tier-0 express configuration)."""
    return f"/Stream{stream}/{era}-{producer}-Express-v{proc_version}/ALCAPROMPT"


def _archive_path(prefix: str, run: int, dataset: str, folder: str) -> str:
    """``<prefix>/<run>/<dataset parts>/<folder>``; every part is checked so that a name from
    configuration can never escape the archive path."""
    parts = [p for p in dataset.split("/") if p] + [p for p in folder.split("/") if p]
    for part in parts:
        if not PATH_PART.fullmatch(part) or part in (".", ".."):
            raise SchemaViolation(f"unsafe DQM path part {part!r:.60}")
    return "/".join([prefix, str(run), *parts])


def folder_path(run: int, dataset: str, folder: str) -> str:
    return _archive_path("data/json/archive", run, dataset, folder)


def fairy_path(run: int, dataset: str, folder: str, name: str) -> str:
    return _archive_path("jsonfairy/archive", run, dataset, f"{folder}/{name}")


def _text(text: str) -> str:
    """The answer as it came: the spy parses it itself, defensively."""
    return text


_Folder = tuple[int, str, str]  # run, workflow, stream
_Reading = tuple[tuple[str, ...], DqmQuality]  # harvest mark, result


@dataclass
class _Outcome:
    """One folder's findings, or the failure to reach the GUI for it."""

    findings: Findings
    run: int
    item: str
    workflow: str
    unreachable: SourceFailure | None = None


class _ItemUnreadable(Exception):
    """One item (a folder answer or its export) that could not be read: evidence on it only."""

    def __init__(self, item: str, message: str, raw: str, url: str | None) -> None:
        super().__init__(message)
        self.item, self.message, self.raw, self.url = item, message, raw, url


class DqmSpy(HttpSpy):
    """``base_url`` is the DQM GUI instance (``.../dqm/offline/``)."""

    source = Source.DQM
    # A folder read since its workflow's harvest evidence last changed is asked again this
    # many cycles after its last reading (each folder on its own count, so the re-reads spread
    # over the cycles): a safety net for a change the harvest evidence does not show.
    # A folder whose workflow has no harvest evidence is not asked at all: the harvest is what
    # fills it, and without that evidence the workflow cannot be proven whatever DQM says.
    refresh_every = 24

    def __init__(self, base_url: str, **options: Unpack[HttpSpyOptions]) -> None:
        super().__init__(base_url, **options)
        self._cycle = -1
        # (run, workflow, stream) -> (harvest mark, result) the folder gave twice in a row (one
        # garbled answer must not become final: a second one confirms it), and the cycle of
        # its last reading.
        self._settled: dict[_Folder, tuple[_Reading, int]] = {}
        # The same key -> the (harvest mark, result) read once, awaiting its confirmation.
        self._read_once: SecondReadings[_Folder, _Reading] = SecondReadings(lambda key: key[0])

    async def _collect(self, scope: PollScope, findings: Findings) -> None:
        self._cycle += 1
        in_scope = set(scope.open_runs)
        self._settled = {k: v for k, v in self._settled.items() if k[0] in in_scope}
        self._read_once.keep_runs(in_scope)
        parts = []
        for run in scope.runs:
            if not run.stopped:
                continue
            versions = dict(run.proc_versions)
            for workflow in run.workflows:
                for stream in self._streams(run, workflow):
                    # No proc_version known yet: the dataset name is not known, do not guess.
                    version = versions.get(stream)
                    if version is not None and self._due(run.run, workflow, stream):
                        parts.append(self._folder(run, workflow, stream, version, findings))
        self._merge(list(await asyncio.gather(*parts)), findings)

    @staticmethod
    def _merge(outcomes: list[_Outcome], findings: Findings) -> None:
        """A folder the GUI could not be reached for is an item problem, unless no folder
        request reached it at all: then the source itself is failing."""
        failures = [o.unreachable for o in outcomes if o.unreachable is not None]
        if outcomes and len(failures) == len(outcomes):
            for failure in failures:
                findings.failure(failure)
            return
        for outcome in outcomes:
            findings.extend(outcome.findings)
            missed = outcome.unreachable
            if missed is not None:
                findings.item_problem(
                    outcome.run,
                    outcome.item,
                    missed.message,
                    raw=missed.raw,
                    url=missed.url,
                    workflow=outcome.workflow,
                )

    def _due(self, run: int, workflow: WorkflowScope, stream: str) -> bool:
        mark = workflow.harvest_mark
        if not mark:
            return False
        settled = self._settled.get((run, workflow.name, stream))
        if settled is None or settled[0][0] != mark:
            return True
        return self._cycle - settled[1] >= self.refresh_every

    def _remember(self, key: _Folder, reading: _Reading) -> None:
        """Settle a folder on a second equal reading; a refresh equal to the settled one
        only renews it."""
        settled = self._settled.get(key)
        renewed = settled is not None and settled[0] == reading
        if renewed or self._read_once.agree(key, reading):
            self._settled[key] = (reading, self._cycle)
        else:
            self._settled.pop(key, None)

    @staticmethod
    def _streams(run: RunScope, workflow: WorkflowScope) -> list[str]:
        if workflow.dqm_folder is None or run.acq_era is None:
            return []
        if not run.streams:
            return list(workflow.streams)
        return [s for s in workflow.streams if s in run.streams]

    async def _folder(
        self,
        run: RunScope,
        workflow: WorkflowScope,
        stream: str,
        proc_version: int,
        parent: Findings,
    ) -> _Outcome:
        assert workflow.dqm_folder is not None and run.acq_era is not None
        findings = parent.child()
        dataset = dqm_dataset(run.acq_era, workflow.producer, stream, proc_version)
        try:
            path = folder_path(run.run, dataset, workflow.dqm_folder)
        except SchemaViolation as bad:
            findings.violation(bad, None, f"DQM folder of {workflow.name}")
            return _Outcome(findings, run.run, "", workflow.name)
        outcome = _Outcome(findings, run.run, path, workflow.name)
        try:
            document = await self.http.get_json(
                path, {"rootcontent": 1}, reader=_text, absent_on_404=True
            )
        except SourceFailure as failure:
            outcome.unreachable = failure
            return outcome
        if document is None:
            return outcome  # no such folder (yet): nothing to say
        try:
            fact, evidence, read_fine = await self._read(
                run.run, workflow, dataset, path, document.text
            )
        except _ItemUnreadable as bad:
            if bad.item != path:  # the folder itself was read fine, its export was not
                findings.item_ok(run, path)
            findings.item_problem(
                run.run, bad.item, bad.message, raw=bad.raw, url=bad.url, workflow=workflow.name
            )
            return outcome
        for item in read_fine:
            findings.item_ok(run, item)
        if fact is not None:
            findings.observe(fact, raw=evidence)
            self._remember((run.run, workflow.name, stream), (workflow.harvest_mark, fact))
        return outcome

    async def _read(
        self, run: int, workflow: WorkflowScope, dataset: str, path: str, text: str
    ) -> tuple[DqmQuality | None, str, list[str]]:
        """The folder's fact (None for an empty folder), its evidence text and the items read
        fine; raises ``_ItemUnreadable`` for the first item that could not be read."""
        assert workflow.dqm_folder is not None
        url = self.http.url(path)
        try:
            contents, problems = read_folder_text(text)
        except SchemaViolation as bad:
            raise _ItemUnreadable(path, f"DQM folder: {bad.message}", bad.raw, url) from None
        summary = summarise_contents(contents)
        problems += summary.problems
        if problems:
            message = "; ".join(p.message for p in problems[:3])
            raw = problems[0].raw or text
            raise _ItemUnreadable(path, f"DQM folder: {message}", raw, url)
        if summary.objects == 0:
            return None, "", [path]
        read_fine = [path]
        bins: StatusBins | None = None
        fairy_text = ""
        if summary.has_status_results:
            fairy = fairy_path(run, dataset, workflow.dqm_folder, STATUS_RESULTS)
            bins, fairy_text = await self._status_bins(fairy)
            read_fine.append(fairy)
        fact = DqmQuality(
            run=run,
            workflow=workflow.name,
            status=summary.status,
            failed_tests=tuple(summary.failed_tests),
            vetoed=bins.vetoed if bins else None,
            db_updated=bins.db_updated if bins else None,
            alignment_read=bins is not None,
            pede_message=summary.pede_message,
            pede_ok=classify_pede_message(summary.pede_message),
        )
        evidence = json.dumps(without_root_objects(contents), sort_keys=True, default=str)
        return fact, evidence + ("\n" + fairy_text if fairy_text else ""), read_fine

    async def _status_bins(self, path: str) -> tuple[StatusBins, str]:
        url = self.http.url(path)
        try:
            document = await self.http.get_json(
                path, {"formatted": "false"}, reader=_text, absent_on_404=True
            )
        except SourceFailure as failure:
            raise _ItemUnreadable(path, failure.message, failure.raw, failure.url) from None
        if document is None:
            raise _ItemUnreadable(path, "statusResults listed but not exported", "", url)
        try:
            return parse_status_results(document.text), document.text
        except SchemaViolation as bad:
            raise _ItemUnreadable(path, f"statusResults: {bad.message}", bad.raw, url) from None
