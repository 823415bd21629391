"""Expert overrides: one as the API shows it, and the bodies that place one and withdraw
one (each with the reason the audit log keeps)."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, Field

from spyagency.domain.overrides import OverrideKind
from spyagency.web.schemas.base import Schema
from spyagency.web.schemas.inputs import WORKFLOW_NAME, FreeText


class Override(Schema):
    id: int
    run: int
    kind: OverrideKind
    workflow: str | None
    who: str
    why: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    active: bool
    description: str


class NewOverride(Schema):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: OverrideKind
    run: int = Field(ge=1, le=2**62)
    workflow: str | None = Field(None, min_length=1, max_length=128, pattern=WORKFLOW_NAME)
    why: FreeText
    expires_in_hours: float = Field(gt=0, le=168)


class Withdrawal(Schema):
    """Why an override is withdrawn before its expiry: withdrawing changes a verdict, so the
    audit log must say why, as it does for placing one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: FreeText
