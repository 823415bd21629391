"""The probes a process supervisor asks: alive (``/healthz``) and ready to serve
(``/readyz``: the database answers and takes writes, and an engine leads)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from spyagency.web.schemas.base import Schema


class Liveness(Schema):
    status: Literal["ok"] = "ok"
    version: str


class ReadinessProbe(Schema):
    status: Literal["ok", "no_leader", "unavailable", "read_only"]
    database: bool
    leader: str | None = Field(
        default=None, description="the leading engine, as an opaque id (changes with it)"
    )
    leader_epoch: int | None = Field(default=None, description="grows at every change of leader")
