"""The sources page: per upstream source, its last success, staleness against the policy,
consecutive failures and the last error with its raw text (escaped, in a ``<pre>``), and its
polls over the last days (a plot from ``/api/v1/sources/history``, its numbers per day below).

Route: ``GET /sources``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from spyagency.domain.states import Source
from spyagency.web import plot_answers
from spyagency.web.pages.rendering import PageKit, Viewer, read_banner
from spyagency.web.schemas.sources import SourceHistory

HISTORY_DAYS = 7


@dataclass(frozen=True)
class PollDay:
    source: Source
    day: date
    successes: int
    failures: int


def poll_days(history: SourceHistory) -> list[PollDay]:
    """The hourly history summed per source and UTC day, days with polls only, by source
    then day."""
    found: list[PollDay] = []
    for item in history.sources:
        totals: dict[date, tuple[int, int]] = {}
        for hour, ok, failed in zip(history.hours, item.successes, item.failures, strict=True):
            if ok or failed:
                day_ok, day_failed = totals.get(hour.date(), (0, 0))
                totals[hour.date()] = (day_ok + ok, day_failed + failed)
        found.extend(
            PollDay(item.source, day, ok, failed) for day, (ok, failed) in sorted(totals.items())
        )
    return found


def add_routes(api: APIRouter, kit: PageKit) -> None:
    services = kit.services

    @api.get("/sources", response_class=HTMLResponse, include_in_schema=False)
    def sources(request: Request) -> Response:
        viewer = kit.reader(request)
        if not isinstance(viewer, Viewer):
            return viewer
        now = services.clock.now()
        with services.store.read() as tx:
            banner = read_banner(tx, services, now)
            history = plot_answers.source_history(tx, now, HISTORY_DAYS)
        return kit.page(
            request,
            "sources.html",
            viewer,
            banner,
            statuses=banner.sources,
            history_days=HISTORY_DAYS,
            poll_days=poll_days(history),
        )
