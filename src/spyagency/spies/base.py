"""What every spy offers the engine, and the common shape of the web spies."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self, TypedDict, Unpack

import httpx2

from spyagency.domain.states import Source
from spyagency.spies.auth import Auth
from spyagency.spies.http import HttpFetcher, HttpSettings
from spyagency.spies.report import Clock, Findings, run_poll, utc_now
from spyagency.spies.scope import PollScope, SpyReport


class Spy(Protocol):
    source: Source

    async def poll(self, scope: PollScope) -> SpyReport: ...

    async def aclose(self) -> None: ...


class HttpSpyOptions(TypedDict, total=False):
    """The constructor options every web spy shares."""

    settings: HttpSettings | None
    auth: Auth | None
    client: httpx2.AsyncClient | None
    transport: httpx2.AsyncBaseTransport | None
    clock: Clock


class HttpSpy:
    """A spy of one web service below ``base_url``; subclasses implement ``_collect``."""

    source: Source

    def __init__(
        self,
        base_url: str,
        **options: Unpack[HttpSpyOptions],
    ) -> None:
        self.http = HttpFetcher(
            base_url,
            settings=options.get("settings"),
            auth=options.get("auth"),
            client=options.get("client"),
            transport=options.get("transport"),
        )
        self.clock = options.get("clock", utc_now)

    async def poll(self, scope: PollScope) -> SpyReport:
        async def collect(findings: Findings) -> None:
            await self._collect(scope, findings)

        return await run_poll(self.source, self.clock, collect, lambda: self.http.request_count)

    async def _collect(self, scope: PollScope, findings: Findings) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
