"""Why a state is what it is: short, human-readable items pointing at what was seen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from spyagency.domain.states import Source


@dataclass(frozen=True)
class Evidence:
    source: Source | None
    what: str
    at: datetime | None = None
    ref: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source.value if self.source else None,
            "what": self.what,
            "at": self.at.isoformat() if self.at else None,
            "ref": self.ref,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evidence:
        source = data.get("source")
        at = data.get("at")
        return cls(
            source=Source(source) if source else None,
            what=str(data["what"]),
            at=datetime.fromisoformat(at) if at else None,
            ref=data.get("ref"),
        )
