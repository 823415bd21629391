"""Collecting what one poll saw and what went wrong, in a stable order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from spyagency.domain.facts import Fact, ItemProblem
from spyagency.domain.observation import Observation
from spyagency.domain.states import Source
from spyagency.spies.failures import SchemaViolation, SourceFailure, truncate_raw
from spyagency.spies.scope import RunScope, SourceError, SpyReport

Clock = Callable[[], datetime]

# Evidence attached to an observation (an upload log, a metadata file) may be longer than an
# error's excerpt, but never unbounded.
EVIDENCE_LIMIT = 64 * 1024


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Findings:
    """Observations and errors of one part of a poll (one run, one file, one tag...)."""

    source: Source
    clock: Clock
    observations: list[Observation] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)

    def observe(self, fact: Fact, raw: str = "", fact_time: datetime | None = None) -> None:
        self.observations.append(
            Observation(
                self.source,
                self.clock(),
                fact,
                raw=truncate_raw(raw, EVIDENCE_LIMIT),
                fact_time=fact_time,
            )
        )

    def error(
        self, message: str, *, raw: str = "", url: str | None = None, permanent: bool = False
    ) -> None:
        self.errors.append(
            SourceError(self.source, self.clock(), message, truncate_raw(raw), url, permanent)
        )

    def failure(self, failure: SourceFailure) -> None:
        self.error(failure.message, raw=failure.raw, url=failure.url, permanent=failure.permanent)

    def violation(self, violation: SchemaViolation, url: str | None, context: str = "") -> None:
        """A schema violation is permanent for that document: retrying returns the same."""
        message = f"{context}: {violation.message}" if context else violation.message
        self.error(message, raw=violation.raw, url=url, permanent=True)

    def item_problem(
        self,
        run: int,
        item: str,
        message: str,
        *,
        raw: str = "",
        url: str | None = None,
        workflow: str | None = None,
        input_tag: str | None = None,
        stream: str | None = None,
        producer: str | None = None,
    ) -> None:
        """One item about ``run`` could not be read: evidence on that run (and the workflows
        the concern fields name, or the whole run when none is given), while the rest of the
        poll goes on and the source stays healthy."""
        fact = ItemProblem(
            run=run,
            source=self.source,
            item=item,
            message=message,
            workflow=workflow,
            input_tag=input_tag,
            stream=stream,
            producer=producer,
        )
        self.observe(fact, raw=raw)
        self.errors.append(
            SourceError(self.source, self.clock(), message, truncate_raw(raw), url, run=run)
        )

    def item_ok(self, run: RunScope | None, item: str) -> None:
        """``item`` was read fine: close its problem if one is recorded (the scope says)."""
        if run is not None and (self.source.value, item) in run.open_problems:
            self.observe(ItemProblem(run.run, self.source, item, "read fine again", open=False))

    def child(self) -> Findings:
        return Findings(self.source, self.clock)

    def extend(self, other: Findings) -> None:
        self.observations.extend(other.observations)
        self.errors.extend(other.errors)


async def gather_into(findings: Findings, parts: Iterable[Awaitable[Findings]]) -> None:
    """Run parts concurrently and merge their findings in the order the parts were given."""
    for part in await asyncio.gather(*parts):
        findings.extend(part)


async def run_poll(
    source: Source,
    clock: Clock,
    collect: Callable[[Findings], Awaitable[None]],
    count: Callable[[], int] = lambda: 0,
) -> SpyReport:
    """The poll envelope shared by every spy: nothing but cancellation escapes it."""
    started = clock()
    before = count()
    findings = Findings(source, clock)
    try:
        await collect(findings)
    except SourceFailure as failure:
        findings.failure(failure)
    except Exception as bug:  # a spy bug must not stop the agency; it is reported instead
        findings.error(f"internal error in the {source} spy: {bug!r}")
    return SpyReport(
        source=source,
        started_at=started,
        finished_at=clock(),
        observations=findings.observations,
        errors=findings.errors,
        requests=count() - before,
    )
