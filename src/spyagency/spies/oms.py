"""The OMS spy: start, stop and conditions of the open runs, and the runs that are new.

Per cycle: one paged ``runs`` query per cluster of open run numbers, the last cluster running
open-ended to discover new runs (a separate query when the open runs are far below the
highest known run). Clustering keeps the pages proportional to the open runs: one stale open
run far in the past costs its own small query, not a walk through all runs since.
"""

from __future__ import annotations

from typing import Unpack

from spyagency.domain.states import Source
from spyagency.spies.base import HttpSpy, HttpSpyOptions
from spyagency.spies.failures import SchemaViolation, SourceFailure
from spyagency.spies.oms_rows import is_local_run, parse_page, parse_run
from spyagency.spies.parsing import compact
from spyagency.spies.report import Findings
from spyagency.spies.scope import PollScope

Range = tuple[int, int | None]  # (first run, last run or None for open-ended)


def query_ranges(open_runs: list[int], highest_known: int | None, gap: int) -> list[Range]:
    """Run-number ranges covering the open runs and everything above the highest known run.

    Open runs closer than ``gap`` share a range; the range that reaches the discovery point
    (highest known + 1) stays open-ended instead of adding a query."""
    runs = sorted(set(open_runs))
    ranges: list[list[int]] = []
    for run in runs:
        if ranges and run - ranges[-1][1] <= gap:
            ranges[-1][1] = run
        else:
            ranges.append([run, run])
    if highest_known is None:
        return [(lo, hi) for lo, hi in ranges]
    start = highest_known + 1
    if ranges and start - ranges[-1][1] <= gap:
        last_lo = ranges.pop()[0]
        return [*((lo, hi) for lo, hi in ranges), (min(last_lo, start), None)]
    return [*((lo, hi) for lo, hi in ranges), (start, None)]


class OmsRunsSpy(HttpSpy):
    """``base_url`` is the OMS aggregation API (``.../agg/api/v1/``)."""

    source = Source.OMS

    def __init__(
        self,
        base_url: str,
        *,
        page_limit: int = 100,
        max_pages: int = 10,
        cluster_gap: int = 50,
        first_start_runs: int = 50,
        **options: Unpack[HttpSpyOptions],
    ) -> None:
        super().__init__(base_url, **options)
        self.page_limit = page_limit
        self.max_pages = max_pages
        self.cluster_gap = cluster_gap
        self.first_start_runs = first_start_runs

    async def _collect(self, scope: PollScope, findings: Findings) -> None:
        wanted = set(scope.open_runs)
        known = scope.highest_known_run
        if known is None:
            # First start: the newest runs, newest first, one page.
            await self._query(findings, {}, wanted, None, newest=True)
        for lo, hi in query_ranges(scope.open_runs, known, self.cluster_gap):
            params: dict[str, str | int] = {"filter[run_number][GE]": lo}
            if hi is not None:
                params["filter[run_number][LE]"] = hi
            await self._query(findings, params, wanted, known, newest=False)

    async def _query(
        self,
        findings: Findings,
        filters: dict[str, str | int],
        wanted: set[int],
        known: int | None,
        *,
        newest: bool,
    ) -> None:
        offset = 0
        limit = self.first_start_runs if newest else self.page_limit
        for _ in range(1 if newest else self.max_pages):
            params = {
                **filters,
                "page[offset]": offset,
                "page[limit]": limit,
                "sort": "-run_number" if newest else "run_number",
            }
            try:
                document = await self.http.get_json("runs", params)
            except SourceFailure as failure:
                findings.failure(failure)
                return
            assert document is not None  # only absent_on_404 answers None
            try:
                page = parse_page(document.body)
            except SchemaViolation as bad:
                findings.violation(bad, document.url)
                return
            for item in page.items:
                try:
                    info = parse_run(item)
                except SchemaViolation as bad:
                    findings.violation(bad, document.url, "OMS run")
                    continue
                # Local and MiniDAQ runs share the run numbering but never reach the Tier-0:
                # they are not the agency's runs.
                if is_local_run(info):
                    continue
                # A range may hold runs that are neither open nor new: those are settled.
                if info.run in wanted or known is None or info.run > known:
                    findings.observe(info, raw=compact(item))
            offset += len(page.items)
            if page.total is not None:
                more = page.total > offset
            else:  # no meta: trust links, else a full page means there may be more
                more = page.has_next or len(page.items) >= limit
            if not page.items or not more:
                return
