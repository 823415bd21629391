"""The DQM spy: quality tests and alignment decisions of each PCL workflow's ALCAPROMPT
folder.

Per cycle: one folder request per (stopped open run, workflow with a DQM folder, stream of the
run the workflow runs in) whose workflow has harvest evidence the spy has not yet read the
folder twice alike since, and per folder already read, one ``refresh_every`` cycles after its
last reading. The folders are filled by the harvest, so folders without harvest evidence are
not asked (nor running runs'). The spy's memory of what it read follows the open runs; a
restart forgets it, and every harvested folder is asked again.
"""

from __future__ import annotations

import re
from typing import Unpack

from spyagency.domain.facts import DqmQuality
from spyagency.domain.states import Source
from spyagency.spies.base import HttpSpy, HttpSpyOptions
from spyagency.spies.confirmation import SecondReadings
from spyagency.spies.documents import loads_lenient
from spyagency.spies.dqm_rows import summarise_folder
from spyagency.spies.failures import SchemaViolation, SourceFailure
from spyagency.spies.report import Findings, gather_into
from spyagency.spies.scope import PollScope, RunScope, WorkflowScope

PATH_PART = re.compile(r"^[A-Za-z0-9_.-]+$")


def dqm_dataset(era: str, producer: str, stream: str) -> str:
    """Same rule as ``catalogue.WorkflowSpec.dqm_dataset``."""
    return f"/Stream{stream}/{era}-{producer}-Express-v1/ALCAPROMPT"


def folder_path(run: int, dataset: str, folder: str) -> str:
    """``data/json/archive/<run>/<dataset parts>/<folder>``; every part is checked so that a
    name from configuration can never escape the archive path."""
    parts = [p for p in dataset.split("/") if p] + [p for p in folder.split("/") if p]
    for part in parts:
        if not PATH_PART.fullmatch(part) or part in (".", ".."):
            raise SchemaViolation(f"unsafe DQM path part {part!r:.60}")
    return "/".join(["data/json/archive", str(run), *parts])


_Folder = tuple[int, str, str]  # run, workflow, stream
_Reading = tuple[tuple[str, ...], DqmQuality]  # harvest mark, result


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
            for workflow in run.workflows:
                for stream in self._streams(run, workflow):
                    if self._due(run.run, workflow, stream):
                        parts.append(self._folder(run, workflow, stream, findings.child()))
        await gather_into(findings, parts)

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
        self, run: RunScope, workflow: WorkflowScope, stream: str, findings: Findings
    ) -> Findings:
        assert workflow.dqm_folder is not None and run.acq_era is not None
        try:
            dataset = dqm_dataset(run.acq_era, workflow.producer, stream)
            path = folder_path(run.run, dataset, workflow.dqm_folder)
        except SchemaViolation as bad:
            findings.violation(bad, None, f"DQM folder of {workflow.name}")
            return findings
        try:
            document = await self.http.get_json(path, {"rootcontent": 1}, reader=loads_lenient)
        except SourceFailure as failure:
            findings.failure(failure)
            return findings
        assert document is not None
        try:
            summary = summarise_folder(document.body)
        except SchemaViolation as bad:
            findings.violation(bad, document.url)
            return findings
        for problem in summary.problems:
            findings.violation(problem, document.url, f"DQM object of {workflow.name}")
        if summary.has_evidence:
            fact = DqmQuality(
                run=run.run,
                workflow=workflow.name,
                status=summary.status,
                failed_tests=tuple(summary.failed_tests),
                vetoed=summary.vetoed,
                db_updated=summary.db_updated,
                pede_exit_code=summary.pede_exit_code,
            )
            findings.observe(fact, raw=document.text)
            self._remember((run.run, workflow.name, stream), (workflow.harvest_mark, fact))
        return findings
