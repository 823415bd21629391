"""The Tier-0 data service spy: FCSR, the PromptReco switch, the latest run, and per open run
its acquisition era, express configuration, stream completion and PromptReco release."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Unpack

from spyagency.domain.facts import ExpressConfig, FirstConditionSafeRun, PromptRecoSwitch
from spyagency.domain.states import Source
from spyagency.spies.base import HttpSpy, HttpSpyOptions
from spyagency.spies.confirmation import SecondReadings
from spyagency.spies.failures import SchemaViolation, SourceFailure
from spyagency.spies.http import JsonDocument
from spyagency.spies.parsing import compact, run_number
from spyagency.spies.report import Findings, gather_into
from spyagency.spies.scope import PollScope, RunScope
from spyagency.spies.tier0_rows import (
    parse_express_row,
    parse_fcsr,
    parse_reco_row_run,
    parse_reco_rows,
    parse_run_config_row,
    parse_stream_done,
    parse_switch,
    result_rows,
    stream_name,
)

# "Every run may be released": the highest released run could not be read this cycle.
ANY_RUN = 2**63 - 1


def _reco_item(target: RunScope, run: int) -> _Item:
    return _Item(target, "reco_config", (("run", run),))


@dataclass(frozen=True)
class _Item:
    """One question about one run: its request, and the stable name its problems go by
    (``<path>?<query>``, e.g. ``express_config?run=380000``)."""

    scope: RunScope
    path: str
    params: tuple[tuple[str, str | int], ...]
    stream: str | None = None

    @property
    def name(self) -> str:
        return self.path + "?" + "&".join(f"{k}={v}" for k, v in self.params)

    def problem(
        self, findings: Findings, message: str, *, raw: str = "", url: str | None = None
    ) -> None:
        findings.item_problem(
            self.scope.run, self.name, message, raw=raw, url=url, stream=self.stream
        )

    def ok(self, findings: Findings) -> None:
        findings.item_ok(self.scope, self.name)

    def narrowed(self, stream: str) -> _Item:
        """The same question about one stream of the run (the service takes ``stream=``)."""
        return _Item(self.scope, self.path, (*self.params, ("stream", stream)), stream)


class T0DataServiceSpy(HttpSpy):
    """Polls ``t0wmadatasvc``.

    Per cycle: ``firstconditionsaferun``, ``promptreco_status`` and ``reco_config`` without a
    run (the highest released run), and with ``discover_new_runs`` also ``run_config`` without
    a run (the latest run: if above the highest run the agency knows, or on a first start, it
    is a new run and is asked about in this cycle). Then per run in scope (and the new one):
    ``run_config?run=N`` once if its acquisition era is not known yet, ``express_config``
    unless it is final, ``reco_config?run=N`` unless N is above the highest released run, and
    per stopped run ``run_stream_done`` for each stream not yet done.

    The service answers only the latest run without a run number, so it cannot list the runs
    in between: with OMS configured, discovery is OMS's alone (``discover_new_runs`` off; a
    run the Tier-0 spy added would hide the ones below it from OMS's discovery, which asks for
    runs above the highest known one). Without OMS, the latest run is the best there is.

    The questions without a run are about the service itself: failing, the source fails.
    A question about one run that cannot be read is evidence on that run only
    (``ItemProblem``, named ``<path>?<query>``), closed when it reads fine again.

    The spy remembers, for the runs in scope only, what cannot change any more: a run's
    acquisition era, and the express configuration of a stopped run read complete, twice
    alike, while it was stopped and all its streams were done (the Tier-0 configures a stream
    when its first data arrives). A run leaving the scope is forgotten; a restart forgets
    everything, and the next cycle asks again.
    """

    source = Source.TIER0

    def __init__(
        self, base_url: str, *, discover_new_runs: bool = True, **options: Unpack[HttpSpyOptions]
    ) -> None:
        super().__init__(base_url, **options)
        self.discover_new_runs = discover_new_runs
        # run -> acquisition era as ``run_config`` answered it (the era may be null upstream).
        self._eras: dict[int, str | None] = {}
        # stopped run -> its express streams, once its express configuration is final.
        self._final_streams: dict[int, tuple[str, ...]] = {}
        # stopped run -> the configuration read once in a final-looking state: final when the
        # next read equals it.
        self._read_once: SecondReadings[int, tuple[ExpressConfig, ...]] = SecondReadings(int)

    async def _collect(self, scope: PollScope, findings: Findings) -> None:
        self._forget_runs_outside(scope)
        fcsr, switch, latest, released = await asyncio.gather(
            self._fcsr(findings.child()),
            self._switch(findings.child()),
            self._latest_run(scope, findings.child()),
            self._latest_release(findings.child()),
        )
        findings.extend(fcsr)
        findings.extend(switch)
        highest_released, released_findings = released
        findings.extend(released_findings)
        new_runs, latest_findings = latest
        findings.extend(latest_findings)
        known = {r.run for r in scope.runs}
        targets = [
            *scope.runs,
            *(RunScope(run=r, stopped=False) for r in new_runs if r not in known),
        ]
        await gather_into(
            findings,
            (self._run(target, highest_released, findings.child()) for target in targets),
        )

    def _forget_runs_outside(self, scope: PollScope) -> None:
        in_scope = set(scope.open_runs)
        self._read_once.keep_runs(in_scope)
        for memory in (self._eras, self._final_streams):
            for run in [r for r in memory if r not in in_scope]:
                del memory[run]

    async def _get(self, findings: Findings, path: str, **params: str | int) -> JsonDocument | None:
        """A question about the service as a whole: failing, it is a source failure."""
        try:
            return await self.http.get_json(path, params or None)
        except SourceFailure as failure:
            findings.failure(failure)
            return None

    async def _get_item(self, item: _Item, findings: Findings) -> JsonDocument | None:
        """A question about one run (or one of its streams): failing, it is evidence on that
        run only, and the source stays healthy."""
        try:
            document = await self.http.get_json(item.path, dict(item.params))
        except SourceFailure as failure:
            item.problem(findings, failure.message, raw=failure.raw, url=failure.url)
            return None
        assert document is not None  # only absent_on_404 answers None
        return document

    async def _fcsr(self, findings: Findings) -> Findings:
        document = await self._get(findings, "firstconditionsaferun")
        if document is not None:
            try:
                value = parse_fcsr(document.body)
            except SchemaViolation as bad:
                findings.violation(bad, document.url)
                return findings
            # ``[null]``: no run is in reco_locked yet, so there is no FCSR to report.
            if value is not None:
                findings.observe(FirstConditionSafeRun(value), raw=document.text)
        return findings

    async def _switch(self, findings: Findings) -> Findings:
        document = await self._get(findings, "promptreco_status")
        if document is not None:
            try:
                findings.observe(PromptRecoSwitch(parse_switch(document.body)), raw=document.text)
            except SchemaViolation as bad:
                findings.violation(bad, document.url)
        return findings

    async def _latest_release(self, findings: Findings) -> tuple[int | None, Findings]:
        """The highest released run: ``reco_config`` without a run answers the rows of the
        highest run it holds, and a run is in it only once released, so no run above that one
        can be released yet. ``ANY_RUN`` when the answer was not read (every run is asked)."""
        document = await self._get(findings, "reco_config")
        if document is None:
            return ANY_RUN, findings
        try:
            runs = [parse_reco_row_run(row) for row in result_rows(document.body)]
        except SchemaViolation as bad:
            findings.violation(bad, document.url)
            return ANY_RUN, findings
        return (max(runs) if runs else None), findings

    async def _latest_run(self, scope: PollScope, findings: Findings) -> tuple[list[int], Findings]:
        """The runs of the ``run_config`` answer (the latest run) that are new to the agency."""
        if not self.discover_new_runs:
            return [], findings
        eras = await self._run_config(findings)
        in_scope = set(scope.open_runs)
        known = scope.highest_known_run
        new_runs = [r for r in sorted(eras) if known is None or r > known]
        for run, era in eras.items():
            if run in in_scope or run in new_runs:
                self._eras[run] = era
        return new_runs, findings

    async def _run_config(self, findings: Findings) -> dict[int, str | None]:
        """The acquisition eras ``run_config`` without a run answers: the latest run's."""
        eras: dict[int, str | None] = {}
        document = await self._get(findings, "run_config")
        if document is None:
            return eras
        try:
            rows = result_rows(document.body)
        except SchemaViolation as bad:
            findings.violation(bad, document.url)
            return eras
        for row in rows:
            try:
                row_run, era = parse_run_config_row(row)
            except SchemaViolation as bad:
                findings.violation(bad, document.url, "run_config row")
                continue
            eras[row_run] = era
        return eras

    async def _run_era(self, target: RunScope, run: int, findings: Findings) -> bool:
        """Ask ``run_config?run=N``; remember the era if the answer holds it. Whether the
        answer was read (an unreadable one is a problem on that run only)."""
        item = _Item(target, "run_config", (("run", run),))
        document = await self._get_item(item, findings)
        if document is None:
            return False
        try:
            rows = result_rows(document.body)
            eras = [parse_run_config_row(row) for row in rows]
        except SchemaViolation as bad:
            item.problem(
                findings, f"run_config of run {run}: {bad.message}", raw=bad.raw, url=document.url
            )
            return False
        for row_run, era in eras:
            if row_run != run:
                message = f"run_config row is about another run than {run}"
                item.problem(findings, message, raw=document.text, url=document.url)
                return False
            self._eras[run] = era
        item.ok(findings)
        return True

    async def _era(self, target: RunScope, run: int, findings: Findings) -> tuple[bool, str | None]:
        """The run's acquisition era and whether it is known (an unknown one is asked once)."""
        if target.acq_era is not None:
            return True, target.acq_era
        if run not in self._eras:
            await self._run_era(target, run, findings)
        return run in self._eras, self._eras.get(run)

    async def _run(
        self, target: RunScope, highest_released: int | None, findings: Findings
    ) -> Findings:
        try:
            run = run_number(target.run)
        except SchemaViolation as bad:
            findings.violation(bad, None, "run in scope")
            return findings
        final = self._final_streams.get(run) if target.stopped else None
        if final is not None:
            streams = list(final)
        else:
            era_known, era = await self._era(target, run, findings)
            configs, complete = await self._express(target, run, era, findings)
            streams = [config.stream for config in configs]
            # Final only if asked while stopped, the whole answer (era included) was read, and
            # every stream of it is done: the Tier-0 configures a stream when its first data
            # arrives, which can be after the run stopped, while the others still flow in.
            # And only once two such answers in a row agree.
            done = set(target.done_streams)
            looks_final = (
                target.stopped and complete and era_known and bool(streams) and done >= set(streams)
            )
            if looks_final and self._read_once.agree(run, tuple(configs)):
                self._final_streams[run] = tuple(streams)
        if not streams:
            streams = list(target.streams)
        parts = []
        # Asked while the run may be released, and also while its last answer is still an
        # open problem: an answer cut during a fault (when every run was asked) must be read
        # again to close it, or the run would stay unknown until its lock-in.
        reco_pending = (self.source.value, _reco_item(target, run).name) in target.open_problems
        if (highest_released is not None and run <= highest_released) or reco_pending:
            parts.append(self._reco(target, run, findings.child()))
        if target.stopped:
            for stream in streams:
                if stream not in target.done_streams:
                    parts.append(self._stream_done(target, run, stream, findings.child()))
        await gather_into(findings, parts)
        return findings

    async def _express(
        self, target: RunScope, run: int, era: str | None, findings: Findings
    ) -> tuple[list[ExpressConfig], bool]:
        """The run's express configuration, and whether every row was read.

        An unreadable answer is a problem on the run; an unreadable row, a problem on its
        stream when the row names one (``express_config?run=N&stream=S``)."""
        item = _Item(target, "express_config", (("run", run),))
        document = await self._get_item(item, findings)
        if document is None:
            return [], False
        try:
            rows = result_rows(document.body)
        except SchemaViolation as bad:
            item.problem(
                findings,
                f"express_config of run {run}: {bad.message}",
                raw=bad.raw,
                url=document.url,
            )
            return [], False
        configs: list[ExpressConfig] = []
        unreadable: set[str] = set()
        for row in rows:
            try:
                config = parse_express_row(row, run, era)
            except SchemaViolation as bad:
                where = self._row_item(item, row)
                where.problem(
                    findings,
                    f"express_config of run {run}: {bad.message}",
                    raw=bad.raw or compact(row),
                    url=document.url,
                )
                unreadable.add(where.name)
                continue
            configs.append(config)
            findings.observe(config, raw=compact(row))
        # Close what reads fine now: the run's answer, and each stream row read this time.
        for source, name in target.open_problems:
            mine = name == item.name or name.startswith(item.name + "&")
            if source == self.source.value and mine and name not in unreadable:
                findings.item_ok(target, name)
        return configs, not unreadable

    @staticmethod
    def _row_item(item: _Item, row: object) -> _Item:
        """The stream question a bad row answers, when the row names its stream readably."""
        stream = row.get("stream") if isinstance(row, dict) else None
        try:
            return item.narrowed(stream_name(stream))
        except SchemaViolation:
            return item

    async def _stream_done(
        self, target: RunScope, run: int, stream: str, findings: Findings
    ) -> Findings:
        try:
            stream_name(stream)
        except SchemaViolation as bad:
            findings.violation(bad, None, f"stream of run {run}")
            return findings
        item = _Item(target, "run_stream_done", (("run", run), ("stream", stream)), stream)
        document = await self._get_item(item, findings)
        if document is not None:
            try:
                fact = parse_stream_done(document.body, run, stream)
            except SchemaViolation as bad:
                item.problem(findings, bad.message, raw=bad.raw or document.text, url=document.url)
                return findings
            findings.observe(fact, raw=document.text)
            item.ok(findings)
        return findings

    async def _reco(self, target: RunScope, run: int, findings: Findings) -> Findings:
        item = _reco_item(target, run)
        document = await self._get_item(item, findings)
        if document is not None:
            try:
                released = parse_reco_rows(document.body, run)
            except SchemaViolation as bad:
                item.problem(findings, bad.message, raw=bad.raw or document.text, url=document.url)
                return findings
            item.ok(findings)
            if released is not None:
                findings.observe(released, raw=document.text)
        return findings
