"""What the web layer is given by the composition root: nothing here builds anything."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from prometheus_client.registry import Collector

from spyagency.config.settings import SourcesSettings, WebSettings
from spyagency.domain.catalogue import Catalogue
from spyagency.domain.clock import Clock
from spyagency.domain.policy import Policy
from spyagency.engine.waiting import woken_within
from spyagency.store.uow import Store


class EngineHandle(Protocol):
    """The engine as the web sees it, when both run in one process."""

    async def reevaluate(self, runs: list[int]) -> object: ...


class ChangeFeed:
    """Wakes live-update streams when new events were written (ids are read from the store).

    In one process the engine calls ``notify`` after each batch; web replicas of a scaled-out
    deployment call it from a PostgreSQL LISTEN loop.
    """

    def __init__(self) -> None:
        # One event per generation, replaced at each notification. No lock: a waiter that is
        # cancelled (a live page closed) holds nothing, so it can never leave the feed wedged,
        # and ``notify`` never waits for anyone.
        self._event: asyncio.Event | None = None
        self.generation = 0

    async def notify(self) -> None:
        self.generation += 1
        event, self._event = self._event, None
        if event is not None:
            event.set()

    async def wait(self, timeout: float) -> bool:
        """Wait for the next notification; False on timeout."""
        if self._event is None:
            self._event = asyncio.Event()
        return await woken_within(self._event, timeout)


@dataclass
class WebServices:
    store: Store
    clock: Clock
    settings: WebSettings
    catalogue: Catalogue
    policy: Policy
    engine: EngineHandle | None = None
    dry_run: bool = False
    # The configuration's signals.enabled; the experts' runtime switch comes on top of it.
    signals_configured: bool = True
    version: str = "0"
    changes: ChangeFeed = field(default_factory=ChangeFeed)
    # A lease not renewed for this long means no engine leads (readiness probe).
    leader_timeout: timedelta = timedelta(seconds=30)
    # The engine's own metrics (poll durations, delivery latency...) when it runs in-process.
    engine_metrics: Collector | None = None
    # Where the spies read: pages link evidence to these upstreams, not always production's.
    sources: SourcesSettings = field(default_factory=SourcesSettings)
