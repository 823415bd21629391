"""The versioned JSON API, one module per resource, mounted under ``/api/v1``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.security import HTTPBearer

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
from spyagency.web.schemas.base import Problem
from spyagency.web.services import WebServices

PREFIX = "/api/v1"


# Declared for the OpenAPI document (an Authorize button in /docs); the check itself is
# ``security.authorize``, which also accepts a browser session.
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token: `spyagency token issue NAME --role viewer|operator|expert`.",
)
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "no valid token or session (or a bad one)"},
    403: {"model": Problem, "description": "your role may not do this"},
}


def api_router(services: WebServices) -> APIRouter:
    api = APIRouter(prefix=PREFIX, dependencies=[Depends(BEARER)], responses=AUTH_ERRORS)
    for resource in (runs, readiness, workflows, sources, alerts, overrides, control, audit, kpi):
        api.include_router(resource.router(services))
    return api
