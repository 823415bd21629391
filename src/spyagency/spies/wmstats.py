"""The WMStats spy: the AlcaHarvest jobs of the open runs' Express requests.

Per cycle: one ``requestcache`` request, then one ``jobdetail/<request>`` per Express request
of a stopped open run (harvesting starts only when the run has stopped) that is not settled;
nothing at all when every stream of every stopped run has its request settled.

A request is settled once its jobdetail was read twice with the same outcome while the
requestcache already called it completed (or later): a completed request runs no more jobs, so
its jobdetail cannot change and is not asked again. Twice, because one garbled answer must not
become final: a second, equal one confirms it. The memory follows the open runs (a run leaving
the scope is forgotten) and is lost on restart, when every request is asked once more.
"""

from __future__ import annotations

from typing import Unpack

from spyagency.domain.facts import HarvestJob
from spyagency.domain.lifecycle import NO_OUTPUT_LFN
from spyagency.domain.states import HarvestJobState, Source
from spyagency.spies.base import HttpSpy, HttpSpyOptions
from spyagency.spies.confirmation import SecondReadings
from spyagency.spies.failures import SchemaViolation, SourceFailure
from spyagency.spies.report import Findings, gather_into
from spyagency.spies.scope import PollScope
from spyagency.spies.wmstats_rows import (
    ExpressRequest,
    parse_request,
    requests_in,
    summarise_jobdetail,
)


class WmStatsSpy(HttpSpy):
    """``base_url`` is the Tier-0 WMStats data service (``.../t0_reqmon/data/``)."""

    source = Source.WMSTATS

    def __init__(self, base_url: str, **options: Unpack[HttpSpyOptions]) -> None:
        super().__init__(base_url, **options)
        # Settled requests (name -> run): their final jobdetail has been read, twice alike.
        self._settled: dict[str, int] = {}
        # Completed requests read once ((run, name) -> what was read), awaiting confirmation.
        self._read_once: SecondReadings[tuple[int, str], tuple[object, ...]] = SecondReadings(
            lambda key: key[0]
        )

    async def _collect(self, scope: PollScope, findings: Findings) -> None:
        self._forget(scope)
        stopped = {r.run for r in scope.runs if r.stopped}
        if not stopped or self._all_settled(scope):
            return
        try:
            document = await self.http.get_json("requestcache")
        except SourceFailure as failure:
            findings.failure(failure)
            return
        assert document is not None
        try:
            entries = requests_in(document.body)
        except SchemaViolation as bad:
            findings.violation(bad, document.url)
            return
        wanted: list[ExpressRequest] = []
        for name, info in entries:
            try:
                request = parse_request(name, info)
            except SchemaViolation as bad:
                findings.violation(bad, document.url, "requestcache")
                continue
            if request is not None and request.run in stopped and request.name not in self._settled:
                wanted.append(request)
        wanted.sort(key=lambda r: (r.run, r.stream))
        await gather_into(findings, (self._jobs(r, findings.child()) for r in wanted))

    async def _jobs(self, request: ExpressRequest, findings: Findings) -> Findings:
        try:
            document = await self.http.get_json(f"jobdetail/{request.name}")
        except SourceFailure as failure:
            findings.failure(failure)
            return findings
        assert document is not None
        try:
            summary = summarise_jobdetail(document.body, request.name)
        except SchemaViolation as bad:
            findings.violation(bad, document.url, f"jobdetail of {request.name}")
            return findings
        if request.completed:
            # Read after the requestcache called it completed: final once read twice alike.
            outcome = (summary.state, tuple(summary.outputs), tuple(summary.details))
            if self._read_once.agree((request.run, request.name), outcome):
                self._settled[request.name] = request.run
        state = summary.state
        if state is not None:
            fact = HarvestJob(
                run=request.run,
                stream=request.stream,
                state=state,
                outputs=tuple(dict.fromkeys(summary.outputs)),
                detail=summary.details[0] if summary.details else "",
            )
            findings.observe(fact, raw=document.text)
        elif request.completed:
            # The Tier-0 runs no harvest for a stream without express data: a completed
            # request with no AlcaHarvest job is positive evidence that nothing was produced.
            fact = HarvestJob(
                run=request.run,
                stream=request.stream,
                state=HarvestJobState.SUCCESS,
                outputs=(NO_OUTPUT_LFN,),
                detail="request completed without an AlcaHarvest job",
            )
            findings.observe(fact, raw=document.text)
        return findings

    def _all_settled(self, scope: PollScope) -> bool:
        """Every stream of every stopped run has its settled request: nothing is left to
        learn, so not even the requestcache is asked."""
        settled = self._settled
        return all(
            run.streams and all(f"Express_Run{run.run}_Stream{s}" in settled for s in run.streams)
            for run in scope.runs
            if run.stopped
        )

    def _forget(self, scope: PollScope) -> None:
        """Drop the settled requests of runs that left the scope: memory follows open runs."""
        open_runs = set(scope.open_runs)
        for name in [n for n, run in self._settled.items() if run not in open_runs]:
            del self._settled[name]
        self._read_once.keep_runs(open_runs)
