"""Expert overrides: decisions a person takes, kept apart from automatic ones.

Each carries who, why, when and an expiry, so an override never outlives its reason silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class OverrideKind(StrEnum):
    FORCE_READY = "force_ready"
    HOLD = "hold"
    IGNORE_WORKFLOW = "ignore_workflow"


@dataclass(frozen=True)
class Override:
    run: int
    kind: OverrideKind
    who: str
    why: str
    created_at: datetime
    expires_at: datetime
    workflow: str | None = None
    revoked_at: datetime | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        if (self.kind is OverrideKind.IGNORE_WORKFLOW) != (self.workflow is not None):
            raise ValueError("a workflow is named by, and only by, an ignore_workflow override")
        if not self.who.strip() or not self.why.strip():
            raise ValueError("an override needs who and why")
        if self.expires_at <= self.created_at:
            raise ValueError("an override must expire after it is created")

    def active(self, now: datetime) -> bool:
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        return self.created_at <= now < self.expires_at

    def describe(self) -> str:
        target = f" {self.workflow}" if self.workflow else ""
        until = f"{self.expires_at:%Y-%m-%d %H:%M}Z"
        return f"{self.kind.value}{target} by {self.who} until {until}: {self.why}"


def active_overrides(overrides: Iterable[Override], run: int, now: datetime) -> list[Override]:
    return [o for o in overrides if o.run == run and o.active(now)]
