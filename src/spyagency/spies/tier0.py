"""The Tier-0 data service spy: FCSR, the PromptReco switch, new runs, and per open run its
express configuration, stream completion and PromptReco release."""

from __future__ import annotations

import asyncio
from typing import Unpack

from spyagency.domain.facts import FirstConditionSafeRun, PromptRecoSwitch
from spyagency.domain.states import Source
from spyagency.spies.base import HttpSpy, HttpSpyOptions
from spyagency.spies.failures import SchemaViolation, SourceFailure
from spyagency.spies.http import JsonDocument
from spyagency.spies.parsing import compact, run_number
from spyagency.spies.report import Findings, gather_into
from spyagency.spies.scope import PollScope, RunScope
from spyagency.spies.tier0_rows import (
    parse_express_row,
    parse_fcsr,
    parse_reco_rows,
    parse_run_config_row,
    parse_stream_done,
    parse_switch,
    result_rows,
    stream_name,
)


class T0DataServiceSpy(HttpSpy):
    """Polls ``t0wmadatasvc``.

    Per cycle: ``firstconditionsaferun``, ``promptreco_status`` and ``run_config`` (one
    request each); then per open or newly discovered run ``express_config`` and
    ``reco_config``, and per stopped run ``run_stream_done`` for each stream not yet done.
    ``max_new_runs`` bounds the discovery of one cycle (lowest new runs first, so the next
    cycle continues where this one stopped; the newest ones on a first start).
    """

    source = Source.TIER0

    def __init__(
        self, base_url: str, *, max_new_runs: int = 20, **options: Unpack[HttpSpyOptions]
    ) -> None:
        super().__init__(base_url, **options)
        self.max_new_runs = max_new_runs

    async def _collect(self, scope: PollScope, findings: Findings) -> None:
        fcsr, switch, listing = await asyncio.gather(
            self._fcsr(findings.child()),
            self._switch(findings.child()),
            self._run_listing(scope, findings.child()),
        )
        findings.extend(fcsr)
        findings.extend(switch)
        eras, new_runs, listing_findings = listing
        findings.extend(listing_findings)
        known = {r.run for r in scope.runs}
        targets = [
            *scope.runs,
            *(RunScope(run=r, stopped=False) for r in new_runs if r not in known),
        ]
        await gather_into(
            findings, (self._run(target, eras, findings.child()) for target in targets)
        )

    async def _get(self, findings: Findings, path: str, **params: str | int) -> JsonDocument | None:
        try:
            return await self.http.get_json(path, params or None)
        except SourceFailure as failure:
            findings.failure(failure)
            return None

    async def _fcsr(self, findings: Findings) -> Findings:
        document = await self._get(findings, "firstconditionsaferun")
        if document is not None:
            try:
                fact = FirstConditionSafeRun(parse_fcsr(document.body))
                findings.observe(fact, raw=document.text)
            except SchemaViolation as bad:
                findings.violation(bad, document.url)
        return findings

    async def _switch(self, findings: Findings) -> Findings:
        document = await self._get(findings, "promptreco_status")
        if document is not None:
            try:
                findings.observe(PromptRecoSwitch(parse_switch(document.body)), raw=document.text)
            except SchemaViolation as bad:
                findings.violation(bad, document.url)
        return findings

    async def _run_listing(
        self, scope: PollScope, findings: Findings
    ) -> tuple[dict[int, str | None], list[int], Findings]:
        """Acquisition eras of every run the Tier-0 lists, and the runs new to the agency."""
        eras: dict[int, str | None] = {}
        document = await self._get(findings, "run_config")
        if document is None:
            return eras, [], findings
        try:
            rows = result_rows(document.body)
        except SchemaViolation as bad:
            findings.violation(bad, document.url)
            return eras, [], findings
        for row in rows:
            try:
                run, era = parse_run_config_row(row)
                eras[run] = era
            except SchemaViolation as bad:
                findings.violation(bad, document.url, "run_config row")
        known = scope.highest_known_run
        if known is None:
            new_runs = sorted(eras)[-self.max_new_runs :] if self.max_new_runs > 0 else []
        else:
            new_runs = sorted(r for r in eras if r > known)[: self.max_new_runs]
        return eras, new_runs, findings

    async def _run(
        self, target: RunScope, eras: dict[int, str | None], findings: Findings
    ) -> Findings:
        try:
            run = run_number(target.run)
        except SchemaViolation as bad:
            findings.violation(bad, None, "run in scope")
            return findings
        streams = await self._express(run, eras.get(run) or target.acq_era, findings)
        if not streams:
            streams = list(target.streams)
        parts = [self._reco(run, findings.child())]
        if target.stopped:
            for stream in streams:
                if stream not in target.done_streams:
                    parts.append(self._stream_done(run, stream, findings.child()))
        await gather_into(findings, parts)
        return findings

    async def _express(self, run: int, era: str | None, findings: Findings) -> list[str]:
        document = await self._get(findings, "express_config", run=run)
        if document is None:
            return []
        try:
            rows = result_rows(document.body)
        except SchemaViolation as bad:
            findings.violation(bad, document.url)
            return []
        streams: list[str] = []
        for row in rows:
            try:
                config = parse_express_row(row, run, era)
            except SchemaViolation as bad:
                findings.violation(bad, document.url, f"express_config of run {run}")
                continue
            streams.append(config.stream)
            findings.observe(config, raw=compact(row))
        return streams

    async def _stream_done(self, run: int, stream: str, findings: Findings) -> Findings:
        try:
            stream_name(stream)
        except SchemaViolation as bad:
            findings.violation(bad, None, f"stream of run {run}")
            return findings
        document = await self._get(findings, "run_stream_done", run=run, stream=stream)
        if document is not None:
            try:
                fact = parse_stream_done(document.body, run, stream)
                findings.observe(fact, raw=document.text)
            except SchemaViolation as bad:
                findings.violation(bad, document.url)
        return findings

    async def _reco(self, run: int, findings: Findings) -> Findings:
        document = await self._get(findings, "reco_config", run=run)
        if document is not None:
            try:
                released = parse_reco_rows(document.body, run)
            except SchemaViolation as bad:
                findings.violation(bad, document.url)
                return findings
            if released is not None:
                findings.observe(released, raw=document.text)
        return findings
