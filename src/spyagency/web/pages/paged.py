"""Pages that show one list newest first, paged by id (alerts, audit): one route shape.

``GET <path>?before=<id>`` shows ``PAGE_SIZE`` items below ``before``; the template gets
``entries``, ``older`` (the ``before`` of the next page, or None), ``before``, and whatever
``extra`` reads from the same snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from spyagency.store.uow import Transaction
from spyagency.web.pages.banner import read_banner
from spyagency.web.pages.kit import PageKit
from spyagency.web.pages.viewer import Viewer
from spyagency.web.paging import keyset_page

PAGE_SIZE = 50
Item = TypeVar("Item")
Fetch = Callable[[Transaction, int, int | None], Sequence[Item]]


def _nothing_more(_tx: Transaction) -> dict[str, Any]:
    return {}


def add_paged_list(
    api: APIRouter,
    kit: PageKit,
    path: str,
    template: str,
    fetch: Fetch[Item],
    key: Callable[[Item], int],
    extra: Callable[[Transaction], dict[str, Any]] = _nothing_more,
) -> None:
    """``fetch(tx, limit, before)``: up to ``limit`` items below ``before``, newest first."""
    services = kit.services

    @api.get(path, response_class=HTMLResponse, include_in_schema=False)
    def paged_list(request: Request, before: Annotated[int | None, Query(ge=1)] = None) -> Response:
        viewer = kit.reader(request)
        if not isinstance(viewer, Viewer):
            return viewer
        with services.store.read() as tx:
            banner = read_banner(tx, services, services.clock.now())
            page = keyset_page(fetch(tx, PAGE_SIZE + 1, before), PAGE_SIZE, key)
            context = extra(tx)
        return kit.page(
            request,
            template,
            viewer,
            banner,
            entries=page.items,
            older=page.next_before,
            before=before,
            **context,
        )
