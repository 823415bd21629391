"""The WMStats spy: the AlcaHarvest jobs of the open runs' Express requests.

Per cycle: one ``requestcache`` request, then one ``jobdetail/<request>`` per Express request
of a stopped open run (harvesting starts only when the run has stopped) that is not settled;
nothing at all when every stream of every stopped run has its request settled.

One ``HarvestJob`` per producer whose AlcaHarvest task has job summaries. WMStats keeps a job
summary only for a job that failed or succeeded after a retry, so a request without any says
nothing (a first-try success leaves none): no fact is made of it. Only a summary naming the
``/no/output`` placeholder says that a harvest wrote nothing.

One ``HarvestTaskCounts`` per producer whose AlcaHarvest task the request's ``AgentJobInfo``
reports: the counts there include first-try successes, and a task whose jobs all succeeded
and whose subscriptions are finished is the producer's statement that its harvest is over
(the harvest spy then checks the area for its files).

A request is settled once its jobdetail was read twice with the same outcome while the
requestcache already called it completed (or later): a completed request runs no more jobs, so
its jobdetail cannot change and is not asked again. Twice, because one garbled answer must not
become final: a second, equal one confirms it. The memory follows the open runs (a run leaving
the scope is forgotten) and is lost on restart, when every request is asked once more.

One request's unreadable entry or jobdetail is a problem of that run only; the source fails
only when the requestcache itself cannot be read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Unpack

from spyagency.domain.facts import HarvestJob, HarvestTaskCounts
from spyagency.domain.states import HarvestJobState, Source
from spyagency.spies.base import HttpSpy, HttpSpyOptions
from spyagency.spies.confirmation import SecondReadings
from spyagency.spies.failures import SchemaViolation, SourceFailure
from spyagency.spies.report import Findings, gather_into
from spyagency.spies.scope import PollScope, RunScope
from spyagency.spies.wmstats_rows import (
    ExpressRequest,
    Unreadable,
    express_name,
    parse_request,
    read_item,
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
        stopped = {r.run: r for r in scope.runs if r.stopped}
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
        wanted: list[tuple[ExpressRequest, RunScope]] = []
        for name, info in entries:
            try:
                named = express_name(name)
            except SchemaViolation as bad:
                # No run can be read from it: the answer itself is at fault.
                findings.violation(bad, document.url, "requestcache")
                continue
            if named is None or named[0] not in stopped or name in self._settled:
                continue
            run, stream = named
            item = f"requestcache/{name}"
            try:
                request = parse_request(name, info)
            except SchemaViolation as bad:
                findings.item_problem(
                    run, item, bad.message, raw=bad.raw, url=document.url, stream=stream
                )
                continue
            if request is not None:
                findings.item_ok(stopped[run], item)
                for task in request.tasks:
                    counts = HarvestTaskCounts(
                        run=run,
                        stream=stream,
                        producer=task.producer,
                        succeeded=task.succeeded,
                        failed=task.failed,
                        active=task.active,
                        subscriptions_finished=task.subscriptions_finished,
                        subscriptions_open=task.subscriptions_open,
                    )
                    # A task over dates from its subscriptions' last update: when the harvest
                    # ended, not when the agency happened to read it.
                    ended = (
                        datetime.fromtimestamp(task.updated, UTC)
                        if counts.finished_ok and task.updated is not None
                        else None
                    )
                    findings.observe(counts, fact_time=ended)
                wanted.append((request, stopped[run]))
        wanted.sort(key=lambda pair: (pair[0].run, pair[0].stream))
        await gather_into(findings, (self._jobs(r, s, findings.child()) for r, s in wanted))

    async def _jobs(self, request: ExpressRequest, run: RunScope, findings: Findings) -> Findings:
        item = f"jobdetail/{request.name}"
        try:
            document = await self.http.get_json(item, reader=read_item)
        except SourceFailure as failure:
            findings.failure(failure)
            return findings
        assert document is not None
        try:
            if isinstance(document.body, Unreadable):
                raise SchemaViolation(document.body.message)
            summaries = summarise_jobdetail(document.body, request.name)
        except SchemaViolation as bad:
            findings.item_problem(
                request.run,
                item,
                f"jobdetail of {request.name}: {bad.message}",
                raw=document.text,
                url=document.url,
                stream=request.stream,
            )
            return findings
        findings.item_ok(run, item)
        if request.completed:
            # Read after the requestcache called it completed: final once read twice alike.
            # The task counts come with the request: equal readings must agree on them too.
            outcome = (request.tasks, *((p, s.outcome()) for p, s in summaries.items()))
            if self._read_once.agree((request.run, request.name), outcome):
                self._settled[request.name] = request.run
        for producer, summary in summaries.items():
            state = summary.state
            assert state is not None  # summarise_jobdetail keeps only tasks with a state
            fact = HarvestJob(
                run=request.run,
                stream=request.stream,
                state=state,
                outputs=tuple(dict.fromkeys(summary.outputs)),
                detail=summary.details[0] if summary.details else "",
                producer=producer,
            )
            # A success dates from its summary's timestamp (ChangeState writes it with the
            # summary): a harvest read late is still known to have ended then.
            ended = (
                datetime.fromtimestamp(summary.succeeded_at, UTC)
                if state is HarvestJobState.SUCCESS and summary.succeeded_at is not None
                else None
            )
            findings.observe(fact, raw=document.text, fact_time=ended)
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
