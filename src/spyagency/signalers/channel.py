"""What every delivery channel implements, and what it answers.

The outbox hands a channel one message at a time; the channel says whether it was delivered
and, if not, whether trying again could help (a transport error says whether it is permanent).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class Delivery(StrEnum):
    DELIVERED = "delivered"
    TRANSIENT = "transient"  # try again later (timeouts, 5xx, 408, 429, connection errors)
    PERMANENT = "permanent"  # never retry (4xx, a refused recipient, bad configuration)


@dataclass(frozen=True)
class OutboundMessage:
    """One outbox row as a channel sees it. ``payload`` is the JSON body decided upstream."""

    id: int
    channel: str
    kind: str  # "signal" | "alert"
    idempotency_key: str
    payload: Mapping[str, Any]
    created_at: datetime
    run: int | None = None
    attempts: int = 0


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Delivery
    detail: str = ""
    status_code: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


class Channel(Protocol):
    """A delivery channel. ``send`` must not raise: failures are results."""

    name: str

    async def send(self, message: OutboundMessage) -> DeliveryResult: ...

    async def aclose(self) -> None: ...
