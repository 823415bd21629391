"""The signal switch: whether the agency sends readiness signals, and the body that turns
the experts' switch (with a reason)."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, Field

from spyagency.web.schemas.base import Schema
from spyagency.web.schemas.inputs import FreeText


class SignalSwitch(Schema):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool
    reason: FreeText


class SignalControl(Schema):
    signals_enabled: bool = Field(description="what the agency does: configured and switched on")
    configured: bool = Field(description="the configuration file's signals.enabled")
    switch: bool = Field(description="the experts' runtime switch")
    changed_by: str | None
    changed_at: datetime | None
    reason: str | None
    dry_run: bool
