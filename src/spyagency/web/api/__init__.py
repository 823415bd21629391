"""The versioned JSON API, one module per resource, mounted under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from spyagency.web.api import (
    alerts,
    audit,
    control,
    kpi,
    overrides,
    readiness,
    runs,
    sources,
    workflows,
)
from spyagency.web.services import WebServices

PREFIX = "/api/v1"


def api_router(services: WebServices) -> APIRouter:
    api = APIRouter(prefix=PREFIX)
    for resource in (runs, readiness, workflows, sources, alerts, overrides, control, audit, kpi):
        api.include_router(resource.router(services))
    return api
